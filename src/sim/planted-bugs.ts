/**
 * Bugs planted through the simulated ports, one per invariant, behind the test-only `plantedBug`
 * option of runSimulation (`--plant-bug` of `npm run sim`). Each breaks the system in a way that
 * exactly one invariant must catch, which shows that every invariant is able to fail. No production
 * code changes: the production agent runs as always, against a store connection or a driver handle
 * that misbehaves in one specific way. A process a bug starts behind an agent's back is hidden from
 * that host's agent, as a leaked or foreign process would be, so that only the invariants notice it.
 */
import { keys } from "../core/keys.js";
import type { VmRuntime } from "../core/runtime.js";
import type { Phase } from "../core/vm-record.js";
import type { Store, TxnOp } from "../ports/store.js";
import type { VmDriver } from "../ports/vm-driver.js";
import { nodeRecordOf, placementOf, vmStatusOf } from "./decode.js";
import type { InvariantName } from "./invariants.js";
import { overrideDriver, overrideStore } from "./port-overrides.js";
import type { PortWrappers, SimNode } from "./sim-node.js";

export interface PlantedBug {
  /** What goes wrong, as a bug report would say it. */
  what: string;
  /** Fresh bug state for one run: the wrappers every agent incarnation's ports get. */
  plant(nodes: readonly SimNode[]): PortWrappers;
}

const SETTLED: readonly Phase[] = ["Running", "Stopped"];

export const PLANTED_BUGS: Readonly<Record<InvariantName, PlantedBug>> = {
  "single-copy": {
    what: "every start also launches a copy of the VM on the next host",
    plant(nodes) {
      const strays = new Strays();
      return {
        driver: (node, driver) =>
          overrideDriver(strays.hiddenFrom(node, driver), {
            start: async (name, spec) => {
              const started = await driver.start(name, spec);
              const other = nextHost(nodes, node);
              if (other !== node) strays.spawn(other, name);
              return started;
            },
          }),
      };
    },
  },

  "deletion-completes": {
    what: "the store acknowledges the transaction that deletes a VM's record without applying it",
    plant: () => ({
      store: (_node, store) =>
        overrideStore(store, {
          txn: async (request) =>
            request.success.some((op) => op.type === "delete" && op.key.startsWith(keys.vmsPrefix))
              ? { succeeded: true, revision: await store.revision() }
              : store.txn(request),
        }),
    }),
  },

  "desired-running-runs": {
    what: "the driver misses process exits: a VM that died is still reported running",
    plant() {
      const lastSeen = new Map<SimNode, Map<string, VmRuntime>>();
      return {
        driver: (node, driver) => {
          const seen = entry(lastSeen, node, () => new Map<string, VmRuntime>());
          const look = (observe: (name: string) => Promise<VmRuntime>) => async (name: string) => {
            const runtime = await observe(name);
            if (runtime.state === "running") seen.set(name, runtime);
            return runtime.state === "running" ? runtime : (seen.get(name) ?? runtime);
          };
          return overrideDriver(driver, {
            inspect: look((name) => driver.inspect(name)),
            adopt: look((name) => driver.adopt(name)),
            start: async (name, spec) => {
              seen.delete(name);
              const started = await driver.start(name, spec);
              seen.set(name, { state: "running", ...started });
              return started;
            },
            stop: (name, options) => {
              seen.delete(name);
              return driver.stop(name, options);
            },
            remove: (name) => {
              seen.delete(name);
              return driver.remove(name);
            },
          });
        },
      };
    },
  },

  "status-matches": {
    what: "the store acknowledges status writes of a settled VM (Running, Stopped) without applying them",
    plant: () => ({
      store: (_node, store) =>
        overrideStore(store, {
          put: async (key, value, options) =>
            settledStatus(key, value) ? store.revision() : store.put(key, value, options),
          // A status write that comes with its event is a transaction: dropped whole, acknowledged.
          txn: async (request) =>
            request.success.some((op) => op.type === "put" && settledStatus(op.key, op.value))
              ? { succeeded: true, revision: await store.revision() }
              : store.txn(request),
        }),
    }),
  },

  "desired-stopped-stops": {
    what: "a stop reports success but the guest keeps running, unseen, until the VM is started or removed",
    plant() {
      const detachedOn = new Map<SimNode, Set<string>>();
      const gone: VmRuntime = { state: "exited", exit: { code: 0, signal: null, known: true } };
      return {
        driver: (node, driver) => {
          const detached = entry(detachedOn, node, () => new Set<string>());
          const kill = (name: string) => {
            if (detached.delete(name)) node.driver.crash(name);
          };
          return overrideDriver(driver, {
            stop: async (name, options) => {
              if ((await driver.inspect(name)).state !== "running") return driver.stop(name, options);
              detached.add(name);
              return "graceful";
            },
            inspect: async (name) => (detached.has(name) ? gone : driver.inspect(name)),
            adopt: async (name) => (detached.has(name) ? gone : driver.adopt(name)),
            start: (name, spec) => {
              kill(name);
              return driver.start(name, spec);
            },
            remove: (name) => {
              kill(name);
              return driver.remove(name);
            },
          });
        },
      };
    },
  },

  "no-orphan-status": {
    what: "the transaction that deletes a VM loses the deletion of its status",
    plant: () => ({
      store: (_node, store) =>
        overrideStore(store, {
          txn: (request) =>
            store.txn({
              ...request,
              success: request.success.filter(
                (op) => !(op.type === "delete" && op.key.startsWith(keys.statusPrefix)),
              ),
            }),
        }),
    }),
  },

  "no-lost-vm": {
    what: "removing a VM deletes its state directory but leaks its process, which keeps running",
    plant() {
      const strays = new Strays();
      return {
        driver: (node, driver) => {
          const visible = strays.hiddenFrom(node, driver);
          return overrideDriver(visible, {
            remove: async (name) => {
              await visible.remove(name);
              strays.spawn(node, name);
            },
          });
        },
      };
    },
  },

  fencing: {
    what: "a stop leaves the guest running on the next host until the VM is started or removed again",
    plant(nodes) {
      const strays = new Strays();
      const parkedOn = new Map<string, SimNode>();
      const unpark = (name: string) => {
        parkedOn.get(name)?.driver.crash(name);
        parkedOn.delete(name);
      };
      return {
        driver: (node, driver) =>
          overrideDriver(strays.hiddenFrom(node, driver), {
            stop: async (name, options) => {
              const method = await driver.stop(name, options);
              const other = nextHost(nodes, node);
              if (method !== "not-running" && other !== node) {
                strays.spawn(other, name);
                parkedOn.set(name, other);
              }
              return method;
            },
            start: (name, spec) => {
              unpark(name);
              return driver.start(name, spec);
            },
            remove: (name) => {
              unpark(name);
              return driver.remove(name);
            },
          }),
      };
    },
  },

  capacity: {
    what: "a node registers four times the memory and vcpus its host has",
    plant: () => ({
      store: (_node, store) =>
        overrideStore(store, {
          put: (key, value, options) => store.put(key, inflatedRecord(key, value), options),
        }),
    }),
  },

  "placement-converges": {
    what: "the store acknowledges the scheduler's first placement of a VM without applying it",
    plant: () => ({
      store: (_node, store) =>
        dropSchedulerWrites(store, (op) => op.type === "put" && firstPlacement(op.key, op.value)),
    }),
  },

  "timely-failover": {
    what: "the store acknowledges the scheduler's moves of a lost node's VMs without applying them",
    plant: () => ({
      store: (_node, store) =>
        dropSchedulerWrites(
          store,
          (op) =>
            op.type === "put" &&
            op.key.startsWith(keys.eventsPrefix) &&
            op.value.includes('"type":"rescheduled"'),
        ),
    }),
  },
};

/** Acknowledges, without applying, the leader's fenced transactions that carry a matching operation. */
function dropSchedulerWrites(store: Store, matches: (op: TxnOp) => boolean): Store {
  return overrideStore(store, {
    txn: async (request) =>
      request.compare.some((c) => c.key === keys.leader) && request.success.some(matches)
        ? { succeeded: true, revision: await store.revision() }
        : store.txn(request),
  });
}

function inflatedRecord(key: string, value: string): string {
  if (!key.startsWith(keys.nodesPrefix)) return value;
  const record = nodeRecordOf(key, value);
  const { vcpus, memoryMiB } = record.capacity;
  return JSON.stringify({
    ...record,
    capacity: { ...record.capacity, vcpus: vcpus * 4, memoryMiB: memoryMiB * 4 },
  });
}

/** A placement put that assigns the VM a node for the first time (epoch 1; moves make it 2 or more). */
function firstPlacement(key: string, value: string): boolean {
  if (!key.startsWith(keys.placementsPrefix)) return false;
  const placement = placementOf(key, value);
  return placement.node !== "" && placement.epoch === 1;
}

/** Processes a bug started behind the agents' backs; the agent of the host they run on cannot see them. */
class Strays {
  private readonly hidden = new Map<SimNode, Set<string>>();

  spawn(host: SimNode, name: string): void {
    host.driver.spawn(name);
    entry(this.hidden, host, () => new Set<string>()).add(name);
  }

  /** The host's driver as its agent sees it: without the strays. */
  hiddenFrom(host: SimNode, driver: VmDriver): VmDriver {
    const hidden = entry(this.hidden, host, () => new Set<string>());
    const absent: VmRuntime = { state: "absent" };
    return overrideDriver(driver, {
      list: async () => (await driver.list()).filter((name) => !hidden.has(name)),
      inspect: async (name) => (hidden.has(name) ? absent : driver.inspect(name)),
      adopt: async (name) => (hidden.has(name) ? absent : driver.adopt(name)),
      // Its state directory is gone already.
      remove: async (name) => (hidden.has(name) ? undefined : driver.remove(name)),
    });
  }
}

function nextHost(nodes: readonly SimNode[], node: SimNode): SimNode {
  return nodes[(nodes.indexOf(node) + 1) % nodes.length]!;
}

function entry<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  const value = map.get(key) ?? create();
  map.set(key, value);
  return value;
}

function settledStatus(key: string, value: string): boolean {
  return key.startsWith(keys.statusPrefix) && SETTLED.includes(vmStatusOf(key, value).phase);
}
