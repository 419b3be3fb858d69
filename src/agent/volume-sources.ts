/**
 * What a VM's volumes are for its driver: each volume the spec names, read from the store, must be
 * Available and (for a local volume) live on this node; its backend says how qemu opens it. A VM
 * whose volume cannot be attached does not start: the start fails saying why, and is retried with
 * the restart backoff like any failed start. Before a read-write volume is attached its other holders
 * are fenced (backend.fence), so that two qemus never write it.
 */
import { BlixardError } from "../core/errors.js";
import type { VmSpec } from "../core/vm-spec.js";
import type { Store } from "../ports/store.js";
import type { AttachedVolume } from "../ports/vm-driver.js";
import type { VolumeBackend } from "../ports/volume-backend.js";
import { readVolume } from "../state/volume-reads.js";
import { locationOf } from "./volume-agent.js";

export async function volumeSources(
  store: Store,
  backends: readonly VolumeBackend[],
  nodeId: string,
  spec: VmSpec,
): Promise<AttachedVolume[]> {
  const attached: AttachedVolume[] = [];
  for (const ref of spec.volumes ?? []) {
    const read = await readVolume(store, ref.name);
    const refuse = (why: string) => {
      throw new BlixardError("FAILED_PRECONDITION", `volume ${ref.name} ${why}`);
    };
    if (!read) return refuse("does not exist any more");
    if (!read.ok) return refuse(`cannot be read: ${read.problem}`);
    const { record } = read.volume;
    if (record.phase !== "Available") return refuse(`is ${record.phase}`);
    if (record.backend === "local" && record.node !== nodeId) {
      return refuse(`lives on node ${record.node}, not on ${nodeId}`);
    }
    const backend = backends.find((b) => b.name === record.backend);
    if (!backend) return refuse(`is on ${record.backend}, which node ${nodeId} has no backend for`);
    const location = locationOf(record);
    // A read-write volume is this VM's alone (its claim is exclusive), so whoever else still holds it
    // is stale: a lost node's qemu that may still be writing. Fenced before qemu opens it, as Ceph
    // CSI does (rbd: blocklisted and its lock broken; local: nothing, the volume never moves).
    if (!ref.readOnly) await backend.fence(location);
    attached.push({
      name: ref.name,
      readOnly: ref.readOnly,
      boot: ref.boot,
      source: backend.source(location, ref.readOnly),
    });
  }
  return attached;
}
