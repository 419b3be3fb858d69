import { describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import { initialStatus, type VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import type { TxnOp } from "../ports/store.js";
import { createVmParts, deleteVmOps, updateVmParts } from "./vm-transactions.js";

const keyOf = (op: TxnOp) => ("key" in op ? op.key : op.prefix);

const record: VmRecord = {
  name: "web",
  spec: parseVmSpec({
    name: "web",
    kernel: "/k",
    forwards: [
      { host: 8080, guest: 80 },
      { host: 8443, guest: 443 },
    ],
  }),
  desiredState: "running",
  node: "",
  restartNonce: 0,
  deleting: false,
  createdAt: "2026-12-03T10:00:00.000Z",
};
const event = { type: "put" as const, key: "/blixard/v1/events/1", value: "{}" };

describe("VM transactions", () => {
  it("creates record, status and a claim per forwarded port only where none of them exists", () => {
    const parts = createVmParts(record, initialStatus("", record.createdAt), event);
    const claimed = parts.success.filter((op) => op.type === "put" && op.value === "web").map(keyOf);
    expect(claimed).toHaveLength(2);
    expect(parts.compare.map((c) => [c.key, c.target, c.value])).toEqual(
      [keys.vm("web"), ...claimed].map((key) => [key, "createRevision", 0]),
    );
    expect(parts.success.map(keyOf)).toEqual([keys.vm("web"), keys.status("web"), ...claimed, event.key]);
  });

  it("deletes exactly what a create wrote, with the event", () => {
    const created = createVmParts(record, initialStatus("", record.createdAt), event).success;
    const deleted = deleteVmOps(record, event);
    // Nothing of the VM is left behind (a port claim left would block the port for good).
    expect(
      deleted
        .filter((op) => op.type === "delete")
        .map(keyOf)
        .sort(),
    ).toEqual(
      created
        .filter((op) => keyOf(op) !== event.key)
        .map(keyOf)
        .sort(),
    );
    expect(deleted.at(-1)).toBe(event);
  });

  it("updates the record only at the revision read, claims new ports only where free, releases dropped ones", () => {
    const after: VmRecord = {
      ...record,
      spec: {
        ...record.spec,
        forwards: [record.spec.forwards[1]!, { host: 9090, guest: 90, protocol: "udp" }],
      },
      restartNonce: 1,
    };
    const parts = updateVmParts({ record, modRevision: 41 }, after, event);
    const added = keys.portClaim("udp", 9090);
    const dropped = keys.portClaim("tcp", 8080);
    // A concurrent writer moves the record's revision: the update then fails instead of overwriting it.
    // A port another VM claimed meanwhile has a create revision: the update then fails instead of sharing it.
    expect(parts.compare).toEqual([
      { key: keys.vm("web"), target: "modRevision", op: "=", value: 41 },
      { key: added, target: "createRevision", op: "=", value: 0 },
    ]);
    expect(parts.success).toEqual([
      { type: "put", key: keys.vm("web"), value: expect.stringContaining('"restartNonce":1') },
      { type: "put", key: added, value: "web" },
      { type: "delete", key: dropped },
      event,
    ]);
    // The port kept (8443) is neither re-claimed nor released.
    expect(parts.success.map(keyOf)).not.toContain(keys.portClaim("tcp", 8443));
  });
});
