import { describe, expect, it } from "vitest";
import { ClusterLoad } from "./cluster-load.js";
import type { ScheduledVm } from "./vm-record.js";

/** The from-scratch count the scheduler made before every pass: the model ClusterLoad must match. */
function recount(vms: Iterable<ScheduledVm>) {
  const perNode = new Map<
    string,
    {
      vcpus: number;
      memoryMiB: number;
      vms: number;
      ports: Set<string>;
      images: Set<string>;
      groups: Set<string>;
    }
  >();
  for (const vm of vms) {
    if (vm.node === "") continue;
    const entry = perNode.get(vm.node) ?? {
      vcpus: 0,
      memoryMiB: 0,
      vms: 0,
      ports: new Set<string>(),
      images: new Set<string>(),
      groups: new Set<string>(),
    };
    perNode.set(vm.node, entry);
    entry.vcpus += vm.spec.vcpus;
    entry.memoryMiB += vm.spec.memory;
    entry.vms += 1;
    for (const f of vm.spec.forwards) entry.ports.add(`${f.protocol}/${f.host}`);
    for (const path of [vm.spec.kernel, vm.spec.initrd, vm.spec.disk]) if (path) entry.images.add(path);
    if (vm.group !== undefined && !vm.deleting) entry.groups.add(vm.group);
  }
  return perNode;
}

function generator(seed: number) {
  let state = seed;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  return { next, pick };
}

function record(g: ReturnType<typeof generator>, name: string): ScheduledVm {
  return {
    name,
    spec: {
      name,
      vcpus: 1 + Math.floor(g.next() * 4),
      memory: 256 * (1 + Math.floor(g.next() * 4)),
      kernel: g.pick(["/k1", "/k2"]),
      ...(g.next() < 0.3 ? { disk: g.pick(["/d1", "/d2"]) } : {}),
      forwards: g.next() < 0.3 ? [{ protocol: "tcp", host: g.pick([80, 443]), guest: 80 }] : [],
    } as ScheduledVm["spec"],
    desiredState: "running",
    node: g.pick(["", "a", "b", "c"]),
    restartNonce: 0,
    deleting: g.next() < 0.2,
    ...(g.next() < 0.4 ? { group: g.pick(["web", "db"]) } : {}),
    createdAt: "2026-11-22T00:00:00.000Z",
  };
}

describe("ClusterLoad", () => {
  it("counts as a full recount does, after any sequence of puts and deletes", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const g = generator(seed);
      const load = new ClusterLoad();
      const truth = new Map<string, ScheduledVm>();
      for (let step = 0; step < 60; step++) {
        const name = g.pick(["v1", "v2", "v3", "v4", "v5", "v6"]);
        if (g.next() < 0.25) {
          load.delete(name);
          truth.delete(name);
        } else {
          const vm = record(g, name);
          load.set(vm);
          truth.set(name, vm);
        }
        const sets = recount(truth.values());
        for (const node of ["a", "b", "c"]) {
          const counted = sets.get(node);
          const expected = {
            vcpus: counted?.vcpus ?? 0,
            memoryMiB: counted?.memoryMiB ?? 0,
            vms: counted?.vms ?? 0,
          };
          expect(load.used(node), `seed ${seed} step ${step} node ${node}`).toEqual(expected);
          const fields = load.candidateLoad(node);
          const model = sets.get(node);
          expect([...fields.ports].sort()).toEqual([...(model?.ports ?? [])].sort());
          expect([...fields.images].sort()).toEqual([...(model?.images ?? [])].sort());
          expect([...fields.groups].sort()).toEqual([...(model?.groups ?? [])].sort());
          expect([...load.onNode(node)].map((vm) => vm.name).sort()).toEqual(
            [...truth.values()]
              .filter((vm) => vm.node === node)
              .map((vm) => vm.name)
              .sort(),
          );
        }
        expect([...load.unassigned()].map((vm) => vm.name).sort()).toEqual(
          [...truth.values()]
            .filter((vm) => vm.node === "")
            .map((vm) => vm.name)
            .sort(),
        );
        expect([...load.assignedNodes()].sort()).toEqual([...sets.keys()].sort());
        expect(load.size).toBe(truth.size);
      }
    }
  });

  it("keeps an image counted while another VM on the node still uses it", () => {
    const g = generator(7);
    const a = { ...record(g, "a"), node: "n1", spec: { ...record(g, "a").spec, kernel: "/k" } };
    const b = { ...record(g, "b"), node: "n1", spec: { ...record(g, "b").spec, kernel: "/k" } };
    const load = ClusterLoad.of([a, b]);
    load.delete("a");
    expect(load.candidateLoad("n1").images.has("/k")).toBe(true);
    load.delete("b");
    expect(load.candidateLoad("n1").images.has("/k")).toBe(false);
    expect([...load.assignedNodes()]).toEqual([]);
  });
});
