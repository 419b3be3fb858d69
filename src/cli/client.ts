/**
 * The CLI's connection to a node: Connect over HTTP/1.1, with the bearer token when one is known.
 * A node in a cluster (or bound beyond loopback) serves HTTPS with a certificate from its cluster CA;
 * the CLI verifies it against the CA found next to the token, like a kubeconfig's CA data.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { defaultDataDir } from "../daemon/data-dir.js";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { NodeService } from "../gen/blixard/v1/node_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";

export interface GlobalOptions {
  server: string;
  dataDir?: string;
  caFile?: string;
  verbose?: boolean;
}

export const DEFAULT_SERVER = "http://127.0.0.1:7001";

/** --ca-file, else BLIXARD_CA_FILE, else the node's own CA in the data dir (the CLI runs on the node). */
export function findCa(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = options.caFile ?? (env["BLIXARD_CA_FILE"] || undefined);
  const path = explicit ?? join(options.dataDir ?? defaultDataDir(env), "pki", "ca.crt");
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if (explicit !== undefined) {
      throw new Error(`cannot read the CA file ${path} (${(err as NodeJS.ErrnoException).code})`);
    }
    return undefined;
  }
}

/** The default server is reached over https once the local node has a CA (it then serves TLS). */
export function serverUrl(options: GlobalOptions, ca: string | undefined): string {
  return options.server === DEFAULT_SERVER && ca !== undefined ? "https://127.0.0.1:7001" : options.server;
}

export type VmClient = Client<typeof VmService>;

/** BLIXARD_TOKEN, else the token file in the data dir (readable when the CLI runs on the node). */
export function findToken(
  dataDir: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (env["BLIXARD_TOKEN"]) return env["BLIXARD_TOKEN"];
  try {
    return readFileSync(join(dataDir ?? defaultDataDir(env), "token"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function vmClient(options: GlobalOptions): VmClient {
  return createClient(VmService, transport(options));
}

export function nodeClient(options: GlobalOptions): Client<typeof NodeService> {
  return createClient(NodeService, transport(options));
}

export function clusterClient(options: GlobalOptions): Client<typeof ClusterService> {
  return createClient(ClusterService, transport(options));
}

function transport(options: GlobalOptions) {
  const token = findToken(options.dataDir);
  const auth: Interceptor = (next) => (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const ca = findCa(options);
  const baseUrl = serverUrl(options, ca);
  return createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    interceptors: [auth],
    ...(baseUrl.startsWith("https://") && ca !== undefined
      ? { nodeOptions: { agent: nodeHttpsAgent({ caPem: ca }) } }
      : {}),
  });
}
