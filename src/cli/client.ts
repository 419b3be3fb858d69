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
import { TokenService } from "../gen/blixard/v1/token_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import { UsageError } from "./cli-error.js";

export interface GlobalOptions {
  server: string;
  dataDir?: string;
  caFile?: string;
  tokenFile?: string;
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

/** Where the CLI found its token: `dataDir` means the node's own token file, which rotation rewrites. */
export interface FoundToken {
  token: string;
  source: "token-file" | "env" | "data-dir";
  path?: string;
}

/**
 * --token-file, else BLIXARD_TOKEN, else the token file in the data dir (readable when the CLI runs
 * on the node as the user that runs it).
 */
export function findToken(
  dataDir: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  tokenFile?: string,
): FoundToken | undefined {
  if (tokenFile !== undefined) {
    let token: string;
    try {
      token = readFileSync(tokenFile, "utf8").trim();
    } catch (err) {
      throw new UsageError(
        `cannot read --token-file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    if (token === "") throw new UsageError(`--token-file ${tokenFile} is empty`);
    return { token, source: "token-file", path: tokenFile };
  }
  if (env["BLIXARD_TOKEN"]) return { token: env["BLIXARD_TOKEN"], source: "env" };
  const path = join(dataDir ?? defaultDataDir(env), "token");
  try {
    const token = readFileSync(path, "utf8").trim();
    return token === "" ? undefined : { token, source: "data-dir", path };
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

export function tokenClient(options: GlobalOptions): Client<typeof TokenService> {
  return createClient(TokenService, transport(options));
}

function transport(options: GlobalOptions) {
  const token = findToken(options.dataDir, process.env, options.tokenFile)?.token;
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
