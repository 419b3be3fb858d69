/** The CLI's connection to a node: Connect over HTTP/1.1, with the bearer token when one is known. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { defaultDataDir } from "../daemon/data-dir.js";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { NodeService } from "../gen/blixard/v1/node_pb.js";
import { TokenService } from "../gen/blixard/v1/token_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { UsageError } from "./cli-error.js";

export interface GlobalOptions {
  server: string;
  dataDir?: string;
  tokenFile?: string;
  verbose?: boolean;
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
  return createConnectTransport({ baseUrl: options.server, httpVersion: "1.1", interceptors: [auth] });
}
