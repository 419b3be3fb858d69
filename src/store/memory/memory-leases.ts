/**
 * The lease table of the memory store: ids from a counter, expiry times on the injected clock, and one
 * clock timer for the earliest expiry (none while no lease exists, so a ManualClock's pending timers
 * stay meaningful). Deleting the bound keys is the store's job; this table only says which leases are due.
 */
import type { Clock, TimerHandle } from "../../ports/clock.js";
import type { Lease } from "../../ports/store.js";
import { leaseNotFound } from "../shared/store-errors.js";

export interface LeaseRecord {
  readonly id: number;
  readonly ttlSeconds: number;
  /** Clock time (epoch ms) at which the lease expires unless kept alive. */
  expiresAt: number;
}

export class MemoryLeases {
  /** Insertion-ordered, so iteration is the grant order on every run. */
  private readonly leases = new Map<number, LeaseRecord>();
  private nextId = 1;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
  ) {}

  has(leaseId: number): boolean {
    return this.leases.has(leaseId);
  }

  /** Live leases in grant order. */
  list(): LeaseRecord[] {
    return [...this.leases.values()];
  }

  grant(ttlSeconds: number): Lease {
    const id = this.nextId++;
    this.leases.set(id, { id, ttlSeconds, expiresAt: this.expiryFor(ttlSeconds) });
    return { id, ttlSeconds };
  }

  renew(leaseId: number): void {
    const lease = this.require(leaseId, "keep alive");
    lease.expiresAt = this.expiryFor(lease.ttlSeconds);
  }

  /** Throws LEASE_NOT_FOUND unless the lease is live. */
  require(leaseId: number, action: string): LeaseRecord {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw leaseNotFound(`${action} lease ${leaseId}`);
    return lease;
  }

  remove(leaseId: number): void {
    this.leases.delete(leaseId);
  }

  /** The leases whose time is up, earliest expiry first (then lowest id). */
  due(): number[] {
    const now = this.clock.now();
    return this.list()
      .filter((lease) => lease.expiresAt <= now)
      .sort((a, b) => a.expiresAt - b.expiresAt || a.id - b.id)
      .map((lease) => lease.id);
  }

  /** Sets the one timer for the earliest expiry; call after every change to the table. */
  arm(): void {
    this.stop();
    let earliest: number | undefined;
    for (const lease of this.leases.values()) {
      if (earliest === undefined || lease.expiresAt < earliest) earliest = lease.expiresAt;
    }
    if (earliest === undefined) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.onDue();
      },
      Math.max(0, earliest - this.clock.now()),
    );
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private expiryFor(ttlSeconds: number): number {
    return this.clock.now() + ttlSeconds * 1000;
  }
}
