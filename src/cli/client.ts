/** The CLI's connection to a node: Connect over HTTP/1.1, with the bearer token when one is known. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { defaultDataDir } from "../daemon/data-dir.js";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { NodeService } from "../gen/blixard/v1/node_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";

export interface GlobalOptions {
  server: string;
  dataDir?: string;
  verbose?: boolean;
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
  return createConnectTransport({ baseUrl: options.server, httpVersion: "1.1", interceptors: [auth] });
}
