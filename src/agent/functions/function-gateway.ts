/**
 * The gateway every node runs (docs/functions.md): `http://GATEWAY/fn/NAME/...` and Host
 * `NAME.<cluster domain>` go to a ready instance of the function's current version anywhere in the
 * cluster (core/function-routing.ts picks it). While no instance can take a request, the request is
 * held, up to `queueLimit` per function and `holdTimeoutMs`, then refused with a 503 that says why;
 * held requests are reported (load-book.ts) and make the pool controller start instances. How an
 * instance is reached (this node's loopback, or another node's gateway over the cluster's mutual TLS)
 * is the injected `connect`.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import { errorMessage } from "../../core/errors.js";
import { pickInstance, type RoutableInstance, routeOf } from "../../core/function-routing.js";
import type { Clock, TimerHandle } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { Store } from "../../ports/store.js";
import { type FunctionState, type InstanceInfo, readFunctionState } from "../../state/function-state.js";
import { proxy, reply } from "./http-proxy.js";
import { LoadBook } from "./load-book.js";

export interface InstanceTarget {
  vm: string;
  node: string;
  port: number;
}

/** Opens the request to an instance: direct on this node, through the instance's node otherwise. */
export type Connector = (
  target: InstanceTarget,
  request: { method: string; path: string; headers: Record<string, string | string[]> },
) => Promise<ClientRequest>;

export interface GatewayResult {
  fn: string;
  status: number;
  /** From the request's arrival to the end of the answer. */
  seconds: number;
  /** Whether it waited for an instance to become ready (a cold start). */
  held: boolean;
}

export interface FunctionGatewayOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  lease: () => number | undefined;
  /** The cluster domain for Host routing (`NAME.<domain>`); undefined for path routing only. */
  domain: () => string | undefined;
  connect: Connector;
  /** Requests held per function before more are refused; 100 by default. */
  queueLimit?: number;
  /** How long a request is held for an instance; 120 s by default (a full boot under TCG is slow). */
  holdTimeoutMs?: number;
  /** How often the instance table is read again; 1 s by default, 200 ms while requests are held. */
  refreshMs?: number;
  onResult?: (result: GatewayResult) => void;
}

interface Waiter {
  grant: (instance: InstanceInfo) => void;
}

export class FunctionGateway {
  readonly load: LoadBook;
  private readonly log: Logger;
  private state: FunctionState | undefined;
  private readonly waiters = new Map<string, Waiter[]>();
  private refreshing: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly opts: FunctionGatewayOptions) {
    this.log = opts.logger.child({ component: "gateway" });
    this.load = new LoadBook({ ...opts, logger: this.log });
  }

  async start(): Promise<void> {
    this.running = true;
    this.load.start();
    await this.refresh().catch(() => undefined);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await this.load.stop();
  }

  /** A request on the gateway's listener. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const started = this.opts.clock.now();
    const route = routeOf(req.url ?? "/", req.headers.host, this.opts.domain());
    if (!route) {
      reply(res, 404, "no function named: use http://GATEWAY/fn/NAME/... or the Host NAME.<cluster domain>");
      return;
    }
    void this.serve(route.fn, route.path, req, res, started).catch((err: unknown) => {
      this.log.warn({ fn: route.fn, err: errorMessage(err) }, "gateway request failed");
      reply(res, 502, `gateway error: ${errorMessage(err)}`);
    });
  }

  /**
   * A request another node's gateway sends to an instance on this node (over mutual TLS, checked by
   * the API's request handler): only to an instance placed here, and only while it is ready.
   */
  async servePeer(vm: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let instance = this.findInstance(vm);
    // The sending gateway saw it ready; this node's table may be up to a refresh behind.
    if (instance?.state !== "ready") {
      await this.refresh();
      instance = this.findInstance(vm);
    }
    if (
      !instance ||
      instance.node !== this.opts.nodeId ||
      instance.state !== "ready" ||
      instance.port === undefined
    ) {
      reply(res, 503, `instance ${vm} is not ready on node ${this.opts.nodeId}`);
      return;
    }
    const upstream = await this.opts.connect(
      { vm, node: this.opts.nodeId, port: instance.port },
      { method: req.method ?? "GET", path, headers: forwardedHeaders(req) },
    );
    await proxy(req, res, upstream, vm);
  }

  private async serve(
    fn: string,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
  ): Promise<void> {
    if (!this.state) await this.refresh();
    if (!this.state?.records.has(fn)) await this.refresh();
    const record = this.state?.records.get(fn)?.record;
    if (!record) {
      reply(res, 404, `function "${fn}" not found; list functions with: blixard fn list`);
      return;
    }
    let instance = this.take(fn);
    const held = instance === undefined;
    if (!instance) {
      const queue = this.waiters.get(fn) ?? [];
      const limit = this.opts.queueLimit ?? 100;
      if (queue.length >= limit) {
        reply(
          res,
          503,
          `function "${fn}": ${queue.length} requests already wait for an instance (the limit); retry later`,
        );
        this.opts.onResult?.({ fn, status: 503, seconds: 0, held: true });
        return;
      }
      instance = await this.hold(fn, queue, res);
      if (!instance) {
        if (res.destroyed) return;
        const starting = (this.state?.instances.get(fn) ?? []).filter((i) => i.state === "starting").length;
        const seconds = Math.round((this.opts.holdTimeoutMs ?? 120_000) / 1000);
        reply(
          res,
          503,
          `function "${fn}": no instance became ready within ${seconds}s (${starting} starting); retry later`,
        );
        this.opts.onResult?.({
          fn,
          status: 503,
          seconds: (this.opts.clock.now() - started) / 1000,
          held: true,
        });
        return;
      }
    }
    const target = instance;
    try {
      const upstream = await this.opts.connect(
        { vm: target.name, node: target.node, port: target.port! },
        { method: req.method ?? "GET", path, headers: forwardedHeaders(req) },
      );
      const outcome = await proxy(req, res, upstream, target.name);
      if (!outcome.ok)
        this.log.info({ fn, vm: target.name, reason: outcome.reason }, "request failed at the instance");
      this.opts.onResult?.({
        fn,
        status: outcome.status,
        seconds: (this.opts.clock.now() - started) / 1000,
        held,
      });
    } finally {
      this.load.ended(fn, target.name);
      this.wake(fn);
    }
  }

  /** Waits for an instance; undefined on timeout or when the client went away. */
  private hold(fn: string, queue: Waiter[], res: ServerResponse): Promise<InstanceInfo | undefined> {
    return new Promise((resolve) => {
      const leave = () => {
        timer.cancel();
        const q = this.waiters.get(fn) ?? [];
        const i = q.indexOf(waiter);
        if (i >= 0) q.splice(i, 1);
        this.load.setWaiting(fn, q.length);
      };
      const waiter: Waiter = {
        grant: (instance) => {
          leave();
          resolve(instance);
        },
      };
      const timer = this.opts.clock.setTimeout(() => {
        leave();
        resolve(undefined);
      }, this.opts.holdTimeoutMs ?? 120_000);
      // A client that hangs up stops waiting (and stops counting as demand).
      res.once("close", () => {
        leave();
        resolve(undefined);
      });
      queue.push(waiter);
      this.waiters.set(fn, queue);
      this.load.setWaiting(fn, queue.length);
      this.reschedule(200);
    });
  }

  /** Gives instances to held requests, in arrival order, while there are any to give. */
  private wake(fn: string): void {
    const queue = this.waiters.get(fn);
    while (queue && queue.length > 0) {
      const instance = this.take(fn);
      if (!instance) return;
      queue[0]!.grant(instance);
    }
  }

  /** An instance for one more request (counted in flight at once), or undefined to hold it. */
  private take(fn: string): InstanceInfo | undefined {
    const record = this.state?.records.get(fn)?.record;
    if (!record) return undefined;
    const current = (this.state?.instances.get(fn) ?? []).filter(
      (i) => i.version === record.version && i.state !== "deleting" && i.state !== "failed",
    );
    const ready = current.filter((i) => i.state === "ready" && i.port !== undefined && i.node !== "");
    const picked = pickInstance(ready, (vm) => this.load.inFlight(fn, vm), {
      localNode: this.opts.nodeId,
      concurrency: record.spec.concurrency,
      canGrow: current.length < record.spec.maxInstances,
    }) as (RoutableInstance & InstanceInfo) | undefined;
    if (picked) this.load.began(fn, picked.name);
    return picked;
  }

  private findInstance(vm: string): InstanceInfo | undefined {
    for (const list of this.state?.instances.values() ?? []) {
      const found = list.find((i) => i.name === vm);
      if (found) return found;
    }
    return undefined;
  }

  private refresh(): Promise<void> {
    this.refreshing ??= readFunctionState(this.opts.store, { ports: false, skipWhenNone: true })
      .then((state) => {
        this.state = state;
        const exists = new Set([...state.instances.values()].flatMap((l) => l.map((i) => i.name)));
        this.load.prune((vm) => exists.has(vm));
        for (const fn of this.waiters.keys()) this.wake(fn);
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private schedule(): void {
    if (!this.running) return;
    const holding = [...this.waiters.values()].some((q) => q.length > 0);
    this.reschedule(holding ? 200 : (this.opts.refreshMs ?? 1000));
  }

  private reschedule(ms: number): void {
    if (!this.running) return;
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      this.refresh()
        .catch((err: unknown) =>
          this.log.debug({ err: errorMessage(err) }, "gateway could not read the instances"),
        )
        .finally(() => this.schedule());
    }, ms);
  }
}

/** The client's end-to-end headers, plus who it is (X-Forwarded-For), for the instance. */
function forwardedHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (
      v === undefined ||
      k === "connection" ||
      k === "keep-alive" ||
      k === "upgrade" ||
      k === "te" ||
      k === "trailer"
    ) {
      continue;
    }
    if (k === "proxy-authorization" || k === "proxy-connection") continue;
    out[k] = v;
  }
  const peer = req.socket.remoteAddress ?? "";
  const prior = req.headers["x-forwarded-for"];
  out["x-forwarded-for"] = prior ? `${String(prior)}, ${peer}` : peer;
  return out;
}
