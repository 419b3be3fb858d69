/**
 * The connections to the etcd members, and running one call against them within a deadline.
 *
 * Each endpoint gets its own etcd3 client with the library's retries and circuit breakers turned off:
 * the library would retry any failed call on another member, writes included, and a write whose
 * reply was lost must not be sent twice (a retried create-if-absent would report its own success as
 * a conflict). Instead, calls stick to one member, like etcd's Go client, move to the next one when
 * it fails, and are retried here only when that is safe (see etcd-errors.ts).
 */
import { randomInt } from "node:crypto";
import { Etcd3, type IOptions } from "etcd3";
import type { Logger } from "../../ports/logger.js";
import { blamesEndpoint, type CallKind, isRetryable } from "./etcd-errors.js";
import type { EtcdConnection } from "./etcd-options.js";

/**
 * The library's fault policies, reduced to running the call once. The library only calls execute(),
 * and expects a promise even when the function throws (it reports failures by throwing into it).
 */
const NEVER_ABORTED = { signal: new AbortController().signal };
const ONCE = {
  execute: async <T>(fn: (context: unknown) => T) => fn(NEVER_ABORTED),
};
type FaultHandling = NonNullable<IOptions["faultHandling"]>;

/** Ends a stream of ours without the library taking the cancellation for a failure of the member. */
export function endStream(stream: { end(): void; cancel(): void }): void {
  // The library resets a member's connections when a stream it thinks is still writable errors;
  // ending our side first marks it as finished on purpose.
  stream.end();
  stream.cancel();
}

const GRPC_OPTIONS = {
  // Notice a member that vanished without closing its connections (power loss, partition). etcd
  // refuses pings more often than every 5 s, and pings without open calls.
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  // A restarted member is used again within a second, not after gRPC's default backoff of up to 2 min.
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
  // Large ranges: etcd itself sends up to 2 GiB per message.
  "grpc.max_receive_message_length": 2 ** 31 - 1,
  // Channelz keeps per-call statistics for a debugging service nobody queries; skip the bookkeeping.
  "grpc.enable_channelz": 0,
};

/** etcd3's TLS and auth options; with TLS, the member's certificate must name the host dialled. */
function clientOptions(connection: EtcdConnection): Partial<IOptions> {
  const { tls, auth } = connection;
  const pem = (text: string | undefined) => (text === undefined ? undefined : Buffer.from(text));
  return {
    ...(tls === undefined
      ? {}
      : {
          credentials: {
            // etcd3 wants a root certificate; without one, grpc-js falls back to the system's CAs.
            rootCertificate: pem(tls.caPem) as Buffer,
            ...(tls.keyPem === undefined ? {} : { privateKey: pem(tls.keyPem) }),
            ...(tls.certPem === undefined ? {} : { certChain: pem(tls.certPem) }),
          },
        }),
    ...(auth === undefined ? {} : { auth }),
  };
}

export interface CallOptions {
  deadline: Date;
}

export class EtcdEndpoints {
  private readonly clients: Etcd3[];
  private current = 0;
  private closed = false;

  constructor(
    readonly endpoints: readonly string[],
    private readonly log: Logger,
    connection: EtcdConnection = {},
  ) {
    const faultHandling: FaultHandling = {
      host: () => ONCE as unknown as ReturnType<NonNullable<FaultHandling["host"]>>,
      global: ONCE as unknown as FaultHandling["global"],
    };
    this.clients = endpoints.map(
      (host) =>
        new Etcd3({ hosts: [host], faultHandling, grpcOptions: GRPC_OPTIONS, ...clientOptions(connection) }),
    );
    // Spread the clients of many nodes over the members instead of all starting on the first one.
    this.current = randomInt(this.clients.length);
  }

  /** The member calls go to now, and its index for reporting a failure. */
  pick(): { client: Etcd3; index: number } {
    return { client: this.clients[this.current]!, index: this.current };
  }

  /** Moves on from a member that failed, unless another call has moved on already. */
  failed(index: number, err: unknown): void {
    if (index !== this.current || this.clients.length === 1) return;
    this.current = (index + 1) % this.clients.length;
    this.log.debug(
      { from: this.endpoints[index], to: this.endpoints[this.current], err: String(err) },
      "switching etcd endpoint",
    );
  }

  /**
   * Runs `attempt` until it succeeds, fails for good, or the deadline passes; each attempt gets the
   * remaining time as its gRPC deadline, so no call outlives `timeoutMs`. Throws the last raw error.
   */
  async run<T>(
    kind: CallKind,
    timeoutMs: number,
    attempt: (client: Etcd3, options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let pause = 20;
    for (;;) {
      const { client, index } = this.pick();
      try {
        return await attempt(client, { deadline: new Date(deadline) });
      } catch (err) {
        if (blamesEndpoint(err)) this.failed(index, err);
        if (this.closed || !isRetryable(err, kind) || Date.now() + pause >= deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, 250);
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients) client.close();
  }
}
