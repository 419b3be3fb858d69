/**
 * The CLI's global options (--server, --data-dir, ...). Light on purpose: every command loads it,
 * and the RPC machinery is loaded only by the commands that make a request (see program.ts).
 */
export interface GlobalOptions {
  server: string;
  dataDir?: string;
  caFile?: string;
  tokenFile?: string;
  verbose?: boolean;
}

export const DEFAULT_SERVER = "http://127.0.0.1:7001";
