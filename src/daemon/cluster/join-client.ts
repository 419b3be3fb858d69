/**
 * The newcomer's side of `--join`: asks a member node's ClusterService to admit it, trying each
 * candidate (one for --join, every tagged peer for --discover tailscale). A wrong token ends the
 * attempt at once; a cluster busy admitting another node is asked again until the deadline.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { BlixardError } from "../../core/errors.js";
import { ClusterService, type JoinResponse } from "../../gen/blixard/v1/cluster_pb.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";

export interface JoinRequestOptions {
  candidates: readonly string[];
  token: string;
  nodeId: string;
  peerUrl: string;
  clock: Clock;
  logger: Logger;
  /** How long to keep asking while the cluster is busy with another join; 60 s by default. */
  busyTimeoutMs?: number;
}

export interface Admission {
  via: string;
  grant: JoinResponse;
}

export async function requestJoin(options: JoinRequestOptions): Promise<Admission> {
  const deadline = options.clock.now() + (options.busyTimeoutMs ?? 60_000);
  const failures: string[] = [];
  for (;;) {
    let busy = false;
    for (const url of options.candidates) {
      try {
        const grant = await client(url, options.token).join(
          { token: options.token, nodeId: options.nodeId, peerUrl: options.peerUrl },
          { timeoutMs: 15_000 },
        );
        return { via: url, grant };
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code === Code.Unauthenticated) {
          throw new BlixardError(
            "UNAUTHENTICATED",
            `the cluster at ${url} rejected the join token; pass --token with the contents of the \`token\` ` +
              "file in a member node's data dir",
          );
        }
        if (
          e.code === Code.InvalidArgument ||
          e.code === Code.AlreadyExists ||
          e.code === Code.FailedPrecondition
        ) {
          throw new BlixardError("FAILED_PRECONDITION", `${url} refused the join: ${e.rawMessage}`);
        }
        busy ||= e.code === Code.Unavailable && /another node is joining/.test(e.rawMessage);
        failures.push(`${url}: ${e.rawMessage}`);
        options.logger.warn({ url, err: e.rawMessage }, "join attempt failed");
      }
    }
    if (!busy || options.clock.now() > deadline) break;
    await options.clock.sleep(1000);
  }
  throw new BlixardError(
    "UNAVAILABLE",
    `could not join through ${options.candidates.join(", ")} (${failures.slice(-options.candidates.length).join("; ")}); ` +
      "check that the address is a running blixard node started with --cluster-init or --join",
  );
}

function client(baseUrl: string, token: string) {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(
    ClusterService,
    createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer] }),
  );
}
