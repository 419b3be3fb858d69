/**
 * A Store decorator that injects the faults a real store shows: latency, calls that fail before or
 * after they take effect (a lost reply), watches that break and must be resumed, and a partition that
 * cuts one node off entirely. Every decision draws from a seeded Random and waits on the virtual clock.
 */
import { BlixardError } from "../core/errors.js";
import type { Clock } from "../ports/clock.js";
import type { Store, TxnRequest, Watch, WatchBatch, WatchOptions } from "../ports/store.js";
import type { SeededRandom } from "./seeded-random.js";

export interface StoreFaults {
  /** Virtual milliseconds added to every call, drawn uniformly from [min, max]. */
  latencyMs: [number, number];
  /** Probability that a call fails without taking effect. */
  failBefore: number;
  /** Probability that a write takes effect but its reply is lost. */
  failAfter: number;
  /** Probability, per delivered batch, that a watch breaks with UNAVAILABLE. */
  watchBreak: number;
}

export const NO_FAULTS: StoreFaults = { latencyMs: [0, 0], failBefore: 0, failAfter: 0, watchBreak: 0 };

export class FaultyStore implements Store {
  /** While true, every call fails as if the network to the store were cut. */
  partitioned = false;
  /** The process holding this connection died: nothing it started may take effect any more. */
  killed = false;

  constructor(
    private readonly inner: Store,
    private readonly clock: Clock,
    private readonly random: SeededRandom,
    public faults: StoreFaults,
  ) {}

  private async call<T>(what: string, op: () => Promise<T>, write: boolean): Promise<T> {
    const [min, max] = this.faults.latencyMs;
    if (max > 0) await this.clock.sleep(min + this.random.next() * (max - min));
    if (this.killed || this.partitioned || this.random.chance(this.faults.failBefore))
      throw unavailable(what);
    const result = await op();
    if (write && (this.partitioned || this.random.chance(this.faults.failAfter))) throw unavailable(what);
    return result;
  }

  get(key: string) {
    return this.call("get", () => this.inner.get(key), false);
  }
  range(prefix: string, options?: { limit?: number }) {
    return this.call("range", () => this.inner.range(prefix, options), false);
  }
  put(key: string, value: string, options?: { lease?: number }) {
    return this.call("put", () => this.inner.put(key, value, options), true);
  }
  delete(key: string) {
    return this.call("delete", () => this.inner.delete(key), true);
  }
  txn(request: TxnRequest) {
    return this.call("txn", () => this.inner.txn(request), true);
  }
  grantLease(ttlSeconds: number) {
    return this.call("grantLease", () => this.inner.grantLease(ttlSeconds), true);
  }
  keepAlive(leaseId: number) {
    return this.call("keepAlive", () => this.inner.keepAlive(leaseId), true);
  }
  revokeLease(leaseId: number) {
    return this.call("revokeLease", () => this.inner.revokeLease(leaseId), true);
  }
  compact(revision: number) {
    return this.call("compact", () => this.inner.compact(revision), true);
  }
  revision() {
    return this.call("revision", () => this.inner.revision(), false);
  }
  close() {
    return this.inner.close();
  }

  watch(prefix: string, options: WatchOptions): Watch {
    if (this.killed || this.partitioned) throw unavailable("watch");
    const inner = this.inner.watch(prefix, options);
    const self = this;
    async function* breaking(): AsyncGenerator<WatchBatch> {
      for await (const batch of inner) {
        if (self.killed || self.partitioned || self.random.chance(self.faults.watchBreak)) {
          inner.close();
          throw unavailable("watch");
        }
        yield batch;
      }
    }
    const stream = breaking();
    return {
      close: () => inner.close(),
      [Symbol.asyncIterator]: () => stream,
    };
  }
}

function unavailable(what: string): BlixardError {
  return new BlixardError("UNAVAILABLE", `simulated store fault: ${what} failed (store unreachable)`);
}
