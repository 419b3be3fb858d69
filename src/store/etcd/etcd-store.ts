/**
 * The clustered Store: the port's etcd v3 semantics, served by etcd itself through the etcd3 library.
 *
 * Every call runs against one member at a time within a deadline (callTimeoutMs), so a cluster that
 * is unreachable or has lost quorum makes calls fail with UNAVAILABLE or DEADLINE_EXCEEDED instead of
 * hanging; only calls that cannot have been applied are retried (etcd-endpoints.ts). Reads are
 * linearizable, so a revision read here is never older than a write that already returned.
 */
import type { Etcd3 } from "etcd3";
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { Logger } from "../../ports/logger.js";
import type {
  KeyValue,
  Lease,
  RangeResult,
  Store,
  TxnRequest,
  TxnResult,
  Watch,
  WatchOptions,
} from "../../ports/store.js";
import { checkKey, checkPositiveInteger, checkRange, checkText, checkTxn } from "../shared/store-checks.js";
import { leaseNotFound } from "../shared/store-errors.js";
import { toCompare, toKeyValue, toNumber, toRequestOp } from "./etcd-convert.js";
import { type CallOptions, EtcdEndpoints } from "./etcd-endpoints.js";
import { type CallKind, storeClosed, toStoreError } from "./etcd-errors.js";
import { KeyCodec } from "./etcd-keys.js";
import { grantWithOwnId, keepAliveOnce } from "./etcd-lease.js";
import {
  type CompiledEtcdStoreOptions,
  compileEtcdStoreOptions,
  type EtcdStoreOptions,
} from "./etcd-options.js";
import { EtcdWatch } from "./etcd-watch.js";

export type { EtcdStoreOptions } from "./etcd-options.js";

export class EtcdStore implements Store {
  private readonly endpoints: EtcdEndpoints;
  private readonly codec: KeyCodec;
  private readonly log: Logger;
  private readonly watches = new Set<EtcdWatch>();
  private closed = false;
  /** The quorum-confirming read in flight, which concurrent writes share. */
  private quorumRead: Promise<void> | undefined;

  private constructor(private readonly options: CompiledEtcdStoreOptions) {
    this.log = options.logger;
    this.endpoints = new EtcdEndpoints(options.endpoints, this.log, options.connection);
    this.codec = new KeyCodec(options.namespace);
  }

  /** Connects and checks that the cluster answers a linearizable read, which needs a quorum. */
  static async connect(options: EtcdStoreOptions): Promise<EtcdStore> {
    const compiled = compileEtcdStoreOptions(options);
    const store = new EtcdStore(compiled);
    try {
      await store.endpoints.run("read", compiled.dialTimeoutMs, (client, call) => store.probe(client, call));
    } catch (err) {
      await store.close();
      const message = errorMessage(err);
      if (/authentication failed|invalid user ID or password|user name is empty/i.test(message)) {
        throw new BlixardError(
          "UNAUTHENTICATED",
          `etcd refused the user name or password (${message}); check --etcd-username and the password in ` +
            "--etcd-password-file or BLIXARD_ETCD_PASSWORD",
          { cause: err },
        );
      }
      if (/bad certificate|certificate required|unknown ca|certificate verify failed/i.test(message)) {
        throw new BlixardError(
          "UNAUTHENTICATED",
          `cannot reach the etcd cluster at ${compiled.endpoints.join(", ")}: the TLS handshake failed ` +
            `(${message}); etcd wants a client certificate from its CA (--etcd-cert, --etcd-key) and its ` +
            "server certificate must verify against --etcd-cacert",
          { cause: err },
        );
      }
      throw new BlixardError(
        "UNAVAILABLE",
        `cannot reach the etcd cluster at ${compiled.endpoints.join(", ")} within ${compiled.dialTimeoutMs} ms ` +
          `(${errorMessage(err)}); check the endpoints and that a majority of its members are running`,
        { cause: err },
      );
    }
    store.log.debug({ endpoints: compiled.endpoints, namespace: compiled.namespace }, "connected to etcd");
    return store;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    checkKey(key);
    const response = await this.call("read", `get ${JSON.stringify(key)}`, (client, call) =>
      client.kv.range({ key: this.codec.encode(key) }, call),
    );
    const kv = response.kvs[0];
    return kv === undefined ? undefined : toKeyValue(this.codec, kv);
  }

  async range(prefix: string, options: { limit?: number } = {}): Promise<RangeResult> {
    const limit = checkRange(prefix, options);
    const response = await this.call("read", `range over ${JSON.stringify(prefix)}`, (client, call) =>
      client.kv.range({ ...this.codec.prefix(prefix), limit }, call),
    );
    return {
      kvs: response.kvs.map((kv) => toKeyValue(this.codec, kv)),
      revision: toNumber(response.header.revision, "the revision"),
      more: response.more,
    };
  }

  async put(key: string, value: string, options: { lease?: number } = {}): Promise<number> {
    checkKey(key);
    checkText(value, `the value of ${JSON.stringify(key)}`);
    const lease = options.lease ?? 0;
    if (lease !== 0) checkPositiveInteger(lease, "the lease id");
    const what =
      lease === 0 ? `put ${JSON.stringify(key)}` : `put ${JSON.stringify(key)} with lease ${lease}`;
    const response = await this.call("write", what, (client, call) =>
      client.kv.put({ key: this.codec.encode(key), value: Buffer.from(value, "utf8"), lease }, call),
    );
    return toNumber(response.header.revision, "the revision");
  }

  async delete(key: string): Promise<number> {
    checkKey(key);
    const response = await this.call("write", `delete ${JSON.stringify(key)}`, (client, call) =>
      client.kv.deleteRange({ key: this.codec.encode(key) }, call),
    );
    return toNumber(response.deleted, "the number of deleted keys");
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    checkTxn(request);
    const body = {
      compare: request.compare.map((compare) => toCompare(this.codec, compare)),
      success: request.success.map((op) => toRequestOp(this.codec, op)),
      failure: (request.failure ?? []).map((op) => toRequestOp(this.codec, op)),
    };
    const response = await this.call(
      "write",
      "apply the transaction",
      (client, call) => client.kv.txn(body, call),
      request.confirmQuorum === true,
    );
    return { succeeded: response.succeeded, revision: toNumber(response.header.revision, "the revision") };
  }

  watch(prefix: string, options: WatchOptions): Watch {
    if (this.closed) throw storeClosed();
    checkText(prefix, "the watch prefix");
    checkPositiveInteger(options.fromRevision, "the watch start revision");
    const context = { endpoints: this.endpoints, codec: this.codec, log: this.log };
    const watch = new EtcdWatch(context, prefix, options.fromRevision, (w) => this.watches.delete(w));
    this.watches.add(watch);
    return watch;
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    checkPositiveInteger(ttlSeconds, "the lease TTL in seconds");
    return this.call("write", `grant a lease of ${ttlSeconds} s`, (client, call) =>
      grantWithOwnId(client, ttlSeconds, call),
    );
  }

  async keepAlive(leaseId: number): Promise<void> {
    checkPositiveInteger(leaseId, "the lease id");
    const what = `keep lease ${leaseId} alive`;
    // Renewing is idempotent, so it may be retried like a read.
    const ttl = await this.call("read", what, (client, call) => keepAliveOnce(client, leaseId, call));
    if (ttl <= 0) throw leaseNotFound(what);
  }

  async revokeLease(leaseId: number): Promise<void> {
    checkPositiveInteger(leaseId, "the lease id");
    await this.call("write", `revoke lease ${leaseId}`, (client, call) =>
      client.leaseClient.leaseRevoke({ ID: leaseId }, call),
    );
  }

  async compact(revision: number): Promise<void> {
    checkPositiveInteger(revision, "the compaction revision");
    await this.call("write", `compact to revision ${revision}`, (client, call) =>
      client.kv.compact({ revision }, call),
    );
  }

  async revision(): Promise<number> {
    const response = await this.call("read", "read the revision", (client, call) => this.probe(client, call));
    return toNumber(response.header.revision, "the revision");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of [...this.watches]) watch.close();
    this.endpoints.close();
  }

  /**
   * For transactions that ask for it (TxnRequest.confirmQuorum): a linearizable read confirms that a
   * quorum answers before the write is proposed. A write proposed to a leader that has just lost its
   * quorum is not refused: it waits in the leader's log and may still commit when the members return.
   * The read costs one heartbeat round (no disk write) and turns a cluster without quorum into a clean
   * failure before anything is proposed; only a quorum lost in the instant between the two can leave
   * the write in doubt.
   */
  private async confirmQuorum(what: string): Promise<void> {
    // Concurrent writes share one read: a read that answers after a write asked for it shows the
    // quorum as well as one of its own would. Group commit for the confirmation, one round per burst.
    this.quorumRead ??= this.endpoints
      .run("read", this.options.callTimeoutMs, (client, call) => this.probe(client, call))
      .then(() => undefined)
      .finally(() => {
        this.quorumRead = undefined;
      });
    try {
      await this.quorumRead;
    } catch (err) {
      if (this.closed) throw storeClosed();
      throw toStoreError(err, {
        what,
        kind: "read",
        endpoints: this.options.endpoints,
        timeoutMs: this.options.callTimeoutMs,
        notAttempted: true,
      });
    }
  }

  /** The cheapest linearizable read: one key, counted, not fetched. Its header carries the revision. */
  private probe(client: Etcd3, call: CallOptions) {
    return client.kv.range({ key: this.codec.prefix("").key, count_only: true }, call);
  }

  private async call<T>(
    kind: CallKind,
    what: string,
    attempt: (client: Etcd3, call: CallOptions) => Promise<T>,
    confirmQuorum = false,
  ): Promise<T> {
    if (this.closed) throw storeClosed();
    const deadline = Date.now() + this.options.callTimeoutMs;
    if (confirmQuorum) await this.confirmQuorum(what);
    try {
      return await this.endpoints.run(kind, Math.max(1, deadline - Date.now()), attempt);
    } catch (err) {
      if (this.closed) throw storeClosed();
      throw toStoreError(err, {
        what,
        kind,
        endpoints: this.options.endpoints,
        timeoutMs: this.options.callTimeoutMs,
      });
    }
  }
}
