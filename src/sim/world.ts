/**
 * The simulated world: nodes running the production node process (agent, registration, leader
 * election, scheduler) against one store, a client issuing VM requests through the production
 * repository, and a seeded schedule of requests and faults on virtual time. After every step the safety
 * invariants are checked; at the end the faults heal and the liveness invariants are checked once the
 * system is quiescent.
 */
import { VmRepository } from "../api/vm-repository.js";
import { errorMessage } from "../core/errors.js";
import type { ScheduledVm, VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import type { DriverFaults } from "../drivers/memory/memory-host.js";
import type { Store } from "../ports/store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { scheduledVms } from "./decode.js";
import { NO_FAULTS, type StoreFaults } from "./faulty-store.js";
import {
  checkConverged,
  checkSafety,
  checkTimelyFailover,
  type InvariantName,
  type Violation,
} from "./invariants.js";
import { Liveness } from "./liveness.js";
import { PLANTED_BUGS } from "./planted-bugs.js";
import { SeededRandom } from "./seeded-random.js";
import { SimNode, type SimNodeConfig } from "./sim-node.js";
import { type LogSink, traceLogger } from "./trace-logger.js";

export interface SimConfig {
  seed: number;
  nodes: number;
  steps: number;
  storeFaults: StoreFaults;
  driverFaults: DriverFaults;
  /** Probability per step of each fault. */
  crashVm: number;
  restartAgent: number;
  crashHost: number;
  partition: number;
  /** Every node's lease TTL and the scheduler's failover grace (`--lease-ttl`, `--failover-grace`). */
  leaseTtlSeconds: number;
  failoverGraceSeconds: number;
  /** Prints the trace and every service's log lines as they happen (`--verbose`). */
  verbose?: LogSink;
  /**
   * Test only: runs on after a safety violation, to the final checks, so that one run reports every
   * invariant a planted bug breaks (by default a run stops at the first, to keep its trace short).
   */
  keepGoing?: boolean;
  /** Test only: plants the bug (planted-bugs.ts) that this invariant must catch. */
  plantedBug?: InvariantName;
  /**
   * Probability per step of `vm update --memory` on a random VM. Off by default and drawn from a
   * stream of its own, so that with it off every seed's schedule stays as it was.
   */
  resize?: number;
}

export const DEFAULT_CONFIG: Omit<SimConfig, "seed"> = {
  nodes: 3,
  steps: 200,
  storeFaults: { latencyMs: [0, 20], failBefore: 0.02, failAfter: 0.02, watchBreak: 0.02 },
  driverFaults: { bootMs: [500, 3000], failStart: 0.05, ignoreGraceful: 0.2 },
  crashVm: 0.05,
  restartAgent: 0.03,
  crashHost: 0.01,
  partition: 0.02,
  leaseTtlSeconds: 5,
  failoverGraceSeconds: 5,
};

const STRATEGIES = ["binpack", "spread", "locality"] as const;
const ZONES = ["a", "b"] as const;

/** A host of 2–4 vcpus and 1–4 GiB, in zone a or b, with a clock up to ±3 s off, from its seed. */
function nodeConfig(config: SimConfig, rng: SeededRandom, index: number): SimNodeConfig {
  return {
    capacity: { vcpus: 2 + rng.int(3), memoryMiB: 1024 * (1 + rng.int(4)), drivers: ["qemu"] },
    allowance: { reserved: { vcpus: 0, memoryMiB: 0 }, overcommit: { cpu: 1, memory: 1 } },
    labels: { zone: ZONES[index % 2]! },
    skewMs: rng.int(6001) - 3000,
    leaseTtlSeconds: config.leaseTtlSeconds,
    failoverGraceMs: config.failoverGraceSeconds * 1000,
    placementStrategy: rng.pick(STRATEGIES),
  };
}

export interface SimResult {
  seed: number;
  steps: number;
  violations: Violation[];
  trace: string[];
  virtualSeconds: number;
}

async function records(store: Store): Promise<ScheduledVm[]> {
  return scheduledVms(store);
}

/** Drains the microtask queue and pending I/O-free callbacks so every runnable task has run. */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export async function runSimulation(
  config: SimConfig,
  makeStore: (clock: ManualClock) => Store,
): Promise<SimResult> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const random = new SeededRandom(config.seed);
  const store = await makeStore(clock);
  const client = new VmRepository(store, clock);
  const trace: string[] = [];
  const violations: Violation[] = [];
  const rng = random.fork("schedule");
  // Not a fork of `random`: forking draws from it, which would change every other stream.
  const resizes = config.resize ? new SeededRandom(config.seed ^ 0x7e512e) : undefined;
  const hosts = random.fork("hosts");
  const nodes = Array.from(
    { length: config.nodes },
    (_, i) =>
      new SimNode(
        `n${i + 1}`,
        { store, clock, random },
        nodeConfig(config, hosts, i),
        { ...config.storeFaults },
        { ...config.driverFaults },
        1000 * (i + 1),
      ),
  );
  if (config.plantedBug) {
    const wrappers = PLANTED_BUGS[config.plantedBug].plant(nodes);
    for (const node of nodes) node.wrappers = wrappers;
  }
  if (config.verbose) {
    for (const node of nodes)
      node.logger = traceLogger(config.verbose, clock, Date.UTC(2026, 0, 1), { node: node.id });
  }
  const liveness = new Liveness(store, clock, nodes);
  const partitionedUntil = new Map<SimNode, number>();
  const downUntil = new Map<SimNode, number>();
  let vmSeq = 0;

  const log = (line: string) => {
    const stamped = `t=${((clock.now() - Date.UTC(2026, 0, 1)) / 1000).toFixed(1)}s ${line}`;
    trace.push(stamped);
    config.verbose?.(stamped);
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(Math.min(100, ms - t));
      await settle(3);
    }
  };
  // Never awaited by the schedule: an agent's start waits on (virtual) store latency, which only
  // passes while the schedule advances the clock.
  const tryStart = (node: SimNode) => {
    const incarnation = node.incarnation + 1;
    node.startAgent().catch((err: unknown) => {
      if (node.incarnation !== incarnation) return;
      node.crashAgent();
      downUntil.set(node, clock.now() + 1000);
      log(`${node.id} agent failed to start (${errorMessage(err)}); retrying`);
    });
  };

  for (const node of nodes) tryStart(node);

  for (let step = 0; step < config.steps; step++) {
    const now = clock.now();
    for (const [node, until] of partitionedUntil) {
      if (now >= until) {
        node.partitioned = false;
        partitionedUntil.delete(node);
        log(`${node.id} partition healed`);
      }
    }
    for (const [node, until] of downUntil) {
      if (now >= until) {
        downUntil.delete(node);
        log(`${node.id} agent starting`);
        tryStart(node);
      }
    }
    await act(step);
    await advance(rng.int(2000));
    await liveness.observe();
    violations.push(
      ...checkSafety(nodes, step, await records(store)),
      ...checkTimelyFailover(await liveness.overdue(config), step),
    );
    if (violations.length > 0 && !config.keepGoing) break;
  }

  if (violations.length === 0 || config.keepGoing) {
    log("healing all faults");
    for (const node of nodes) {
      node.partitioned = false;
      node.faults = { ...NO_FAULTS };
      node.driver.faults = { ...node.driver.faults, failStart: 0 };
      if (!node.up) tryStart(node);
    }
    // Quiescence: long enough for every backoff (max 60 s) and escalated stop to finish.
    await advance(180_000);
    violations.push(...(await checkConverged(store, nodes)));
    violations.push(...checkSafety(nodes, config.steps, await records(store)));
  }
  for (const node of nodes) node.crashAgent();
  await store.close();
  return {
    seed: config.seed,
    steps: config.steps,
    violations,
    trace,
    virtualSeconds: (clock.now() - Date.UTC(2026, 0, 1)) / 1000,
  };

  async function act(step: number): Promise<void> {
    const live = nodes.filter((n) => n.up);
    const records = (await client.list().catch(() => [])).filter((v) => !v.deleting);
    const roll = rng.next();
    try {
      if (records.length < 8 && roll < 0.25) {
        const name = `vm-${++vmSeq}`;
        const record: VmRecord = {
          name,
          spec: parseVmSpec({
            name,
            kernel: rng.pick(["/sim/vmlinux", "/sim/vmlinux-lts"]),
            vcpus: 1 + rng.int(2),
            memory: 256 * (1 + rng.int(4)),
            restartBackoff: { initialSeconds: 1, maxSeconds: 30 },
            placement: {
              ...(rng.chance(0.3) ? { strategy: rng.pick(STRATEGIES) } : {}),
              constraints: rng.chance(0.2) ? [`zone${rng.pick(["=", "!="])}${rng.pick(ZONES)}`] : [],
              ...(rng.chance(0.1) ? { node: rng.pick(nodes).id } : {}),
            },
          }),
          // Unplaced: the leader's scheduler picks the node, as for `blixard vm create`.
          desiredState: "running",
          restartNonce: 0,
          deleting: false,
          createdAt: new Date(clock.now()).toISOString(),
        };
        await client.create(record);
        const placement = record.spec.placement;
        log(
          `create ${name} (${record.spec.vcpus} vcpus, ${record.spec.memory} MiB${placement.node ? `, on ${placement.node}` : ""}${placement.constraints.length ? `, ${placement.constraints.join(" ")}` : ""})`,
        );
      } else if (records.length > 0 && roll < 0.45) {
        const vm = rng.pick(records);
        const op = rng.pick(["stop", "start", "restart", "delete"] as const);
        await client.update(vm.name, (r) =>
          op === "stop"
            ? { ...r, desiredState: "stopped" }
            : op === "start"
              ? { ...r, desiredState: "running" }
              : op === "restart"
                ? { ...r, desiredState: "running", restartNonce: r.restartNonce + 1 }
                : { ...r, deleting: true },
        );
        log(`${op} ${vm.name}`);
      } else if (rng.chance(config.crashVm) && live.length > 0) {
        const node = rng.pick(live);
        const running = node.driver.running();
        if (running.length > 0) {
          const name = rng.pick(running);
          node.driver.crash(name);
          log(`crash VM ${name} on ${node.id}`);
        }
      } else if (rng.chance(config.restartAgent) && live.length > 0) {
        const node = rng.pick(live);
        node.crashAgent();
        downUntil.set(node, clock.now() + rng.int(3000));
        log(`${node.id} agent killed`);
      } else if (rng.chance(config.crashHost) && live.length > 0) {
        const node = rng.pick(live);
        node.crashHost();
        // Some hosts come back before the failover grace runs out, others long after.
        downUntil.set(node, clock.now() + 2000 + rng.int(rng.chance(0.5) ? 10_000 : 40_000));
        log(`${node.id} host crashed`);
      } else if (rng.chance(config.partition)) {
        const node = rng.pick(nodes);
        node.partitioned = true;
        partitionedUntil.set(node, clock.now() + 1000 + rng.int(rng.chance(0.5) ? 8000 : 30_000));
        log(`${node.id} partitioned from the store`);
      }
    } catch (err) {
      log(`step ${step}: request failed: ${errorMessage(err)}`);
    }
    if (resizes?.chance(config.resize ?? 0) && records.length > 0) {
      const vm = resizes.pick(records);
      const memory = 256 * (1 + resizes.int(4));
      // Refused when the VM would no longer fit the node it runs on.
      await client
        .updateSpec({ spec: { ...vm.spec, memory }, dryRun: false, actor: undefined })
        .then(() => log(`resize ${vm.name} to ${memory} MiB`))
        .catch((err: unknown) =>
          log(`step ${step}: resize ${vm.name} to ${memory} MiB refused: ${errorMessage(err)}`),
        );
    }
  }
}
