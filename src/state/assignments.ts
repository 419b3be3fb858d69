/**
 * Reading nodes' assignments (core/vm-record.ts Assignment) as the VMs they place: for the API's
 * per-node views (`node list` usage, the VMs a drain moves), which read one prefix instead of joining
 * every VM record with its placement.
 */
import { keys } from "../core/keys.js";
import type { ScheduledVm } from "../core/vm-record.js";
import { decodeAssignment } from "../core/vm-record-codec.js";
import type { KeyValue } from "../ports/store.js";

/** The VM each valid assignment places on its node; invalid ones are reported by that node's agent. */
export function assignedVms(kvs: readonly KeyValue[]): ScheduledVm[] {
  return kvs.flatMap((kv) => {
    const rest = kv.key.slice(keys.assignmentsPrefix.length);
    const slash = rest.indexOf("/");
    if (!kv.key.startsWith(keys.assignmentsPrefix) || slash <= 0) return [];
    const node = rest.slice(0, slash);
    const decoded = decodeAssignment(rest.slice(slash + 1), kv.value);
    return decoded.ok ? [{ ...decoded.assignment.record, node, epoch: decoded.assignment.epoch }] : [];
  });
}
