/**
 * What a spec update costs on a node's SQLite store holding `vms` VMs, `onNode` of them on the VM's node, side by side with
 * `vm restart` (the same compare-and-swap write with an event): an update that does not grow the VM,
 * and one that grows it, which reads every VM and status to count what the node has left (api/
 * vm-updater.ts). In process, without HTTP, so that only the store work shows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VmRepository } from "../api/vm-repository.js";
import { keys } from "../core/keys.js";
import { initialStatus, type VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { systemClock } from "../platform/system-clock.js";
import { placeVmOps } from "../state/vm-transactions.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";

export interface UpdateCost {
  vms: number;
  onNode: number;
  restartMs: number[];
  updateMs: number[];
  growMs: number[];
}

const NODE = "bench-node";

export async function measureUpdateCost(vms: number, onNode: number, rounds: number): Promise<UpdateCost> {
  const dir = mkdtempSync(join(tmpdir(), "blixard-bench-update-"));
  const store = await SqliteStore.open({ path: join(dir, "store.db"), clock: systemClock });
  try {
    const repo = new VmRepository(store, systemClock, "bench");
    const nodeOf = (i: number) => (i < onNode ? NODE : `other-${i % 100}`);
    const record = (name: string): VmRecord => ({
      name,
      spec: parseVmSpec({ name, kernel: "/srv/images/vmlinux", memory: 32 }),
      desiredState: "running",
      restartNonce: 0,
      deleting: false,
      createdAt: new Date(0).toISOString(),
    });
    for (let i = 0; i < vms; i += 500) {
      const batch = Array.from({ length: Math.min(500, vms - i) }, (_, j) => record(`vm-${i + j}`));
      await repo.createAll(batch);
      // Placed as the leader's scheduler places them: placement and the node's assignment.
      await store.txn({
        compare: [],
        success: batch.flatMap((r, j) =>
          placeVmOps(r, { node: nodeOf(i + j), epoch: 1, recordRevision: 0 }, ""),
        ),
      });
    }
    const status = (node: string) => JSON.stringify(initialStatus(node, new Date(0).toISOString()));
    for (let i = 0; i < vms; i++) {
      await store.put(keys.status(`vm-${i}`), status(nodeOf(i)));
    }
    await store.put(
      keys.node(NODE),
      JSON.stringify({
        id: NODE,
        apiUrl: "http://127.0.0.1:1",
        labels: {},
        capacity: { vcpus: 1_000_000, memoryMiB: 1_000_000_000, drivers: ["qemu"] },
        startedAt: new Date(0).toISOString(),
      }),
    );
    const target = record("vm-0").spec;
    const timed = async (f: () => Promise<unknown>) => {
      const t0 = process.hrtime.bigint();
      await f();
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const out: UpdateCost = { vms, onNode, restartMs: [], updateMs: [], growMs: [] };
    for (let i = 0; i < rounds; i++) {
      out.restartMs.push(
        await timed(() =>
          repo.update("vm-0", (r) => ({ ...r, restartNonce: r.restartNonce + 1 }), {
            actor: undefined,
            reason: "restart requested",
          }),
        ),
      );
      const cmdline = `round=${i}`;
      out.updateMs.push(
        await timed(() => repo.updateSpec({ spec: { ...target, cmdline }, dryRun: false, actor: undefined })),
      );
      out.growMs.push(
        await timed(() =>
          repo.updateSpec({
            spec: { ...target, cmdline, memory: 33 + i },
            dryRun: false,
            actor: undefined,
          }),
        ),
      );
    }
    return out;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
