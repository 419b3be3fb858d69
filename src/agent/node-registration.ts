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
}

export class NodeRegistration {
  private lease: Lease | undefined;
  private timer: TimerHandle | undefined;
  private running = false;
  private readonly log: Logger;

  constructor(private readonly opts: NodeRegistrationOptions) {
    this.log = opts.logger.child({ component: "registration" });
  }

  async start(): Promise<void> {
    this.running = true;
    await this.opts.store.put(keys.node(this.opts.record.id), JSON.stringify(this.opts.record));
    await this.register();
    this.schedule();
  }

  /** Leaves cleanly: the node shows NotReady at once instead of after its TTL. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    if (this.lease) await this.opts.store.revokeLease(this.lease.id).catch(() => undefined);
    this.lease = undefined;
  }

  /** Stops renewing without telling the store, as a crash would: the node turns NotReady after its TTL. */
  abandon(): void {
    this.running = false;
    this.timer?.cancel();
  }

  private async register(): Promise<void> {
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
    try {
      if (!this.lease) await this.register();
      else await this.opts.store.keepAlive(this.lease.id);
    } catch (err) {
      if (isBlixardError(err, "LEASE_NOT_FOUND")) {
        // The lease ran out (e.g. the store was unreachable for longer than the TTL): register anew.
        this.log.warn({}, "node lease expired; registering again");
        this.lease = undefined;
        await this.register().catch((e) => this.log.warn({ err: errorMessage(e) }, "re-registration failed"));
      } else {
        this.log.warn({ err: errorMessage(err) }, "could not renew the node lease");
      }
    }
    this.schedule();
  }
}
