/**
 * The newcomer's side of `--join`: asks a member node's ClusterService to admit it, trying each
 * candidate (one for --join, every tagged peer for --discover tailscale).
 *
 * The join token pins the cluster CA (k3s's `K10<ca-sha256>::` tokens). Before anything secret is
 * sent, the newcomer fetches the candidate's CA certificate from its public /cacerts and compares
 * its SHA-256 with the token's; a mismatch ends the join. The Join call then runs over TLS verified
 * against that CA, carrying the token's secret and a CSR (the node's key never leaves it). A wrong
 * token ends the attempt at once; a cluster busy admitting another node is asked again until the
 * deadline.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { JoinToken } from "../../core/join-token.js";
import { ClusterService, type JoinResponse } from "../../gen/blixard/v1/cluster_pb.js";
import { certFingerprint } from "../../pki/fingerprint.js";
import { nodeHttpsAgent } from "../../pki/https-agent.js";
import { httpsRequest } from "../../pki/https-request.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";

export interface JoinRequestOptions {
  candidates: readonly string[];
  token: JoinToken;
  nodeId: string;
  peerUrl: string;
  csrPem: string;
  hosts: readonly string[];
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
      let caPem: string;
      try {
        caPem = await fetchPinnedCa(url, options.token.caFingerprint);
      } catch (err) {
        if (err instanceof BlixardError && err.code === "FAILED_PRECONDITION") throw err;
        failures.push(`${url}: ${errorMessage(err)}`);
        options.logger.warn({ url, err: errorMessage(err) }, "join attempt failed: no CA from the candidate");
        continue;
      }
      try {
        const grant = await client(url, caPem).join(
          {
            token: `${options.token.id}.${options.token.secret}`,
            nodeId: options.nodeId,
            peerUrl: options.peerUrl,
            csr: options.csrPem,
            hosts: [...options.hosts],
          },
          { timeoutMs: 15_000 },
        );
        return { via: url, grant };
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code === Code.Unauthenticated) {
          throw new BlixardError(
            "UNAUTHENTICATED",
            `the cluster at ${url} rejected the join token (unknown, revoked, expired or already used); ` +
              "create a new one on a member with `blixard cluster token create`",
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

/**
 * The candidate's CA, accepted only when its fingerprint is the token's. The connection is not
 * verified (we do not know the CA yet), which is why only public data crosses it.
 */
export async function fetchPinnedCa(url: string, pinned: string): Promise<string> {
  const reply = await httpsRequest(`${url}/cacerts`, { insecure: true }, { timeoutMs: 10_000 });
  if (reply.status !== 200) throw new Error(`GET ${url}/cacerts answered ${reply.status}`);
  const got = certFingerprint(reply.body);
  if (got !== pinned) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `the cluster's CA fingerprint at ${url} (sha256 ${got}) does not match the join token (${pinned}); ` +
        "check you copied the token from this cluster. Nothing secret was sent",
    );
  }
  return reply.body;
}

function client(baseUrl: string, caPem: string) {
  return createClient(
    ClusterService,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      nodeOptions: { agent: nodeHttpsAgent({ caPem }) },
    }),
  );
}
