/**
 * Lease-based leader election among Blixard nodes. The leader holds one key bound to its lease; the
 * key's create revision is a fencing token that grows with every term, so a write conditioned on it
 * (`fence()`) fails once a newer leader exists. A leader that cannot renew its lease in time steps down
 * by itself before the store could let another node in.
 */
import { errorMessage } from "../core/errors.js";
import { keys } from "../core/keys.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Compare, Lease, Store } from "../ports/store.js";
import { followPrefix } from "../state/follow-prefix.js";

export interface LeaderElectionOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  ttlSeconds: number;
  onElected?: (term: Term) => void;
  onDemoted?: (reason: string) => void;
}

export interface Term {
  leader: string;
  /** The leader key's create revision: unique and increasing per term. */
  fencingRevision: number;
}

/** How many TTLs a follower waits on its watch before it reads the leader key afresh anyway. */
const VACANCY_RECHECK_TTLS = 12;

/** Retry pause after a store error, so an unreachable store is not hammered. */
const RETRY_MS = 500;

export class LeaderElection {
  private running = false;
  private lease: Lease | undefined;
  private term: Term | undefined;
  private lastRenewal = 0;
  private readonly log: Logger;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: LeaderElectionOptions) {
    this.log = opts.logger.child({ component: "election" });
  }

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  get currentTerm(): Term | undefined {
    return this.term;
  }

  /** A compare that holds only while this node's term is the current one. */
  fence(): Compare {
    if (!this.term) throw new Error("fence() called by a node that is not the leader");
    return { key: keys.leader, target: "createRevision", op: "=", value: this.term.fencingRevision };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  /** Steps down (deleting the key, so another node takes over at once) and stops campaigning. */
  async resign(): Promise<void> {
    this.running = false;
    this.wake?.();
    const lease = this.lease;
    this.demote("resigned");
    if (lease) await this.opts.store.revokeLease(lease.id).catch(() => undefined);
  }

  /** Stops without telling the store, as a crash would: the lease runs out on its own. */
  abandon(): void {
    this.running = false;
    this.wake?.();
    this.term = undefined;
    this.lease = undefined;
  }

  /**
   * Campaigns only when the office is vacant: a follower waits on its watch of the leader key, and
   * costs the store nothing while a leader holds it (campaigning every TTL, each follower granted and
   * revoked a lease and lost a transaction: at 1,000 nodes, most of an idle etcd's work).
   */
  private async loop(): Promise<void> {
    while (this.running) {
      try {
        await this.awaitVacancy();
        if (this.running && (await this.campaign())) await this.holdOffice();
      } catch (err) {
        this.demote(`store error: ${errorMessage(err)}`);
        if (this.running) await this.pause(RETRY_MS);
      }
    }
  }

  private async campaign(): Promise<boolean> {
    const { store, nodeId, ttlSeconds } = this.opts;
    const lease = await store.grantLease(ttlSeconds);
    const renewedAt = this.opts.clock.now();
    const result = await store.txn({
      compare: [{ key: keys.leader, target: "createRevision", op: "=", value: 0 }],
      success: [{ type: "put", key: keys.leader, value: nodeId, lease: lease.id }],
    });
    if (!result.succeeded) {
      await store.revokeLease(lease.id).catch(() => undefined);
      return false;
    }
    this.lease = lease;
    this.lastRenewal = renewedAt;
    this.term = { leader: nodeId, fencingRevision: result.revision };
    this.log.info({ fencingRevision: result.revision }, "elected leader");
    this.opts.onElected?.(this.term);
    return true;
  }

  /** Renews the lease every third of its TTL; steps down when renewals stop succeeding in time. */
  private async holdOffice(): Promise<void> {
    const ttlMs = this.opts.ttlSeconds * 1000;
    while (this.running && this.lease) {
      await this.pause(ttlMs / 3);
      const lease = this.lease;
      if (!this.running || !lease) return;
      try {
        await this.opts.store.keepAlive(lease.id);
        this.lastRenewal = this.opts.clock.now();
      } catch (err) {
        // Step down well before the store could expire the lease and elect someone else.
        if (this.opts.clock.now() - this.lastRenewal >= (ttlMs * 2) / 3) {
          this.demote(`lost the lease: ${errorMessage(err)}`);
          await this.opts.store.revokeLease(lease.id).catch(() => undefined);
          return;
        }
      }
    }
  }

  /**
   * Waits until there is no leader key (none now, or it is deleted: resignation or lease expiry), or
   * a long safety interval passes, or the election stops. The key is followed from the revision of the read, not from
   * the key's own: a leader's key keeps the revision of its election, which compaction passes in time,
   * and a watch from there would fail with COMPACTED; one that falls behind later lists again.
   */
  private async awaitVacancy(): Promise<void> {
    const stop = new AbortController();
    // A safety net only: the watch says when the key goes (a lease that expires deletes it).
    const timeout = this.opts.clock.setTimeout(
      () => stop.abort(),
      VACANCY_RECHECK_TTLS * this.opts.ttlSeconds * 1000,
    );
    this.wake = () => stop.abort();
    try {
      const steps = followPrefix({ store: this.opts.store, prefix: keys.leader, signal: stop.signal });
      for await (const step of steps) {
        const vacant =
          step.type === "list"
            ? !step.kvs.some((kv) => kv.key === keys.leader)
            : step.batch.events.some((e) => e.type === "delete" && e.kv.key === keys.leader);
        if (vacant) return;
      }
    } finally {
      timeout.cancel();
      this.wake = undefined;
    }
  }

  private demote(reason: string): void {
    if (!this.term) return;
    this.term = undefined;
    this.lease = undefined;
    this.log.warn({ reason }, "no longer leader");
    this.opts.onDemoted?.(reason);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.opts.clock.setTimeout(resolve, ms);
      this.wake = () => {
        timer.cancel();
        resolve();
      };
    });
  }
}

/** Who leads now, as any node sees it. */
export async function readLeader(store: Store): Promise<Term | undefined> {
  const kv = await store.get(keys.leader);
  return kv ? { leader: kv.value, fencingRevision: kv.createRevision } : undefined;
}
