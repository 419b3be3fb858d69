/**
 * Registers this node in the store: its record (address, labels, capacity) and a liveness key bound to a
 * lease that it keeps alive. Other nodes see it Ready while the lease lives and NotReady after it expires.
 */
import { errorMessage, isBlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Lease, Store } from "../ports/store.js";

export interface NodeRegistrationOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  record: NodeRecord;
  ttlSeconds: number;
  /**
   * Called once when a TTL has passed since the last renewal that succeeded (counted from when it was
   * sent, so never later than the store's own expiry): other nodes may now see this one NotReady and
   * the leader may move its VMs, so the node should stop running them (self-fencing).
   */
  onLost?: () => void;
  /** Called when a renewal succeeds again after onLost. */
  onRegained?: () => void;
  /** Called at every renewal that got through (the node watchdog's heartbeat). */
  onRenewed?: () => void;
  /**
   * When a renewal last got through, by this process or the node's previous one (the watchdog's
   * heartbeat survives restarts). The node counts as lost from that time plus the TTL until it
   * registers again, and at once when that time has passed already: a restarted node must not run
   * VMs the leader may have moved while it was away. From start() when absent (a new node).
   */
  lastRenewedAt?: number;
}

export class NodeRegistration {
  private lease: Lease | undefined;
  private timer: TimerHandle | undefined;
  private deadline: TimerHandle | undefined;
  private lost = false;
  private recordWritten = false;
  private running = false;
  private readonly log: Logger;

  constructor(private readonly opts: NodeRegistrationOptions) {
    this.log = opts.logger.child({ component: "registration" });
  }

  /**
   * Registers now if the store answers; if it does not (a member still catching up after a restart),
   * the node starts anyway and the renewal loop keeps trying, as it does after any lost lease.
   */
  async start(): Promise<void> {
    this.running = true;
    const sentAt = this.opts.clock.now();
    this.arm(this.opts.lastRenewedAt ?? sentAt);
    try {
      await this.register();
      this.renewed(sentAt);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "could not register the node yet; retrying");
    }
    this.schedule();
  }

  /** The current liveness lease's id (keys bound to it vanish with the node); undefined while none. */
  get leaseId(): number | undefined {
    return this.lease?.id;
  }

  /** Whether the lease may have expired: the node must not run VMs that may be running elsewhere. */
  get isLost(): boolean {
    return this.lost;
  }

  /** Leaves cleanly: the node shows NotReady at once instead of after its TTL. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.deadline?.cancel();
    if (this.lease) await this.opts.store.revokeLease(this.lease.id).catch(() => undefined);
    this.lease = undefined;
  }

  /** Stops renewing without telling the store, as a crash would: the node turns NotReady after its TTL. */
  abandon(): void {
    this.running = false;
    this.timer?.cancel();
    this.deadline?.cancel();
  }

  private async register(): Promise<void> {
    if (!this.recordWritten) {
      await this.opts.store.put(keys.node(this.opts.record.id), JSON.stringify(this.opts.record));
      this.recordWritten = true;
    }
    const lease = await this.opts.store.grantLease(this.opts.ttlSeconds);
    await this.opts.store.put(keys.alive(this.opts.record.id), this.opts.record.startedAt, {
      lease: lease.id,
    });
    this.lease = lease;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.opts.clock.setTimeout(() => void this.renew(), (this.opts.ttlSeconds * 1000) / 3);
  }

  private async renew(): Promise<void> {
    const sentAt = this.opts.clock.now();
    try {
      if (!this.lease) await this.register();
      else await this.opts.store.keepAlive(this.lease.id);
      this.renewed(sentAt);
    } catch (err) {
      if (isBlixardError(err, "LEASE_NOT_FOUND")) {
        // The lease ran out (e.g. the store was unreachable for longer than the TTL): register anew.
        this.log.warn({}, "node lease expired; registering again");
        this.lease = undefined;
        await this.register().then(
          () => this.renewed(sentAt),
          (e) => this.log.warn({ err: errorMessage(e) }, "re-registration failed"),
        );
      } else {
        this.log.warn({ err: errorMessage(err) }, "could not renew the node lease");
      }
    }
    this.schedule();
  }

  /** A renewal sent at `sentAt` succeeded: the lease lives until at least sentAt + TTL. */
  private renewed(sentAt: number): void {
    if (!this.running) return;
    this.opts.onRenewed?.();
    if (this.lost) {
      this.lost = false;
      this.log.info({}, "node lease renewed again");
      this.opts.onRegained?.();
    }
    // A renewal that took longer than the TTL to answer proves nothing about now: lost again at once.
    this.arm(sentAt);
  }

  /** Counts the node lost a TTL after `renewedAt`; at once (synchronously) when that has passed. */
  private arm(renewedAt: number): void {
    this.deadline?.cancel();
    const expiresIn = renewedAt + this.opts.ttlSeconds * 1000 - this.opts.clock.now();
    if (expiresIn <= 0) {
      this.markLost();
      return;
    }
    this.deadline = this.opts.clock.setTimeout(() => this.markLost(), expiresIn);
  }

  private markLost(): void {
    if (!this.running || this.lost) return;
    this.lost = true;
    this.log.warn({ ttlSeconds: this.opts.ttlSeconds }, "node lease may have expired: fencing this node");
    this.opts.onLost?.();
  }
}
