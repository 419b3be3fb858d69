/**
 * What the CLI presents to a node and trusts it with: the API token and the cluster CA, found next to
 * each other like a kubeconfig's credentials and CA data. Reads files only; the RPC machinery that
 * uses them lives in client.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultDataDir } from "../daemon/default-data-dir.js";
import { DEFAULT_SERVER, type GlobalOptions } from "./globals.js";
import { UsageError } from "./usage-error.js";

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

/** The node's URL, the CA to verify it with and the bearer token: everything a request needs. */
export interface Endpoint {
  baseUrl: string;
  ca: string | undefined;
  token: string | undefined;
}

export function endpoint(options: GlobalOptions): Endpoint {
  const token = findToken(options.dataDir, process.env, options.tokenFile)?.token;
  const ca = findCa(options);
  return { baseUrl: serverUrl(options, ca), ca, token };
}
