import { describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { VmRecord } from "../core/vm-record.js";
import { decodeAssignment } from "../core/vm-record-codec.js";
import { parseVmSpec } from "../core/vm-spec.js";
import type { TxnOp } from "../ports/store.js";
import { createVmParts, deleteVmOps, placeVmOps, updateVmParts } from "./vm-transactions.js";

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
  restartNonce: 0,
  deleting: false,
  createdAt: "2026-12-03T10:00:00.000Z",
};
const event = { type: "put" as const, key: "/blixard/v1/events/1", value: "{}" };

describe("VM transactions", () => {
  it("creates record and a claim per forwarded port only where none of them exists, and no status yet", () => {
    const parts = createVmParts(record, event);
    const claimed = parts.success.filter((op) => op.type === "put" && op.value === "web").map(keyOf);
    expect(claimed).toHaveLength(2);
    expect(parts.compare.map((c) => [c.key, c.target, c.value])).toEqual(
      [keys.vm("web"), ...claimed].map((key) => [key, "createRevision", 0]),
    );
    expect(parts.success.map(keyOf)).toEqual([keys.vm("web"), ...claimed, event.key]);
  });

  it("deletes exactly what a create and a placement wrote, with the event", () => {
    const placement = { node: "n1", epoch: 1, recordRevision: 5 };
    const created = [
      ...createVmParts(record, event).success,
      // The first status, which the node that runs the VM writes.
      { type: "put" as const, key: keys.status("web"), value: "{}" },
      ...placeVmOps(record, placement, ""),
    ];
    const deleted = deleteVmOps(record, "n1", event);
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

  it("moves the assignment with the placement: the old node's key goes, the new node's holds the record", () => {
    const ops = placeVmOps(record, { node: "n2", epoch: 3, recordRevision: 7 }, "n1", event);
    expect(ops.map((op) => [op.type, keyOf(op)])).toEqual([
      ["put", keys.placement("web")],
      ["delete", keys.assignment("n1", "web")],
      ["put", keys.assignment("n2", "web")],
      ["put", event.key],
    ]);
    const put = ops[2] as { value: string };
    expect(decodeAssignment("web", put.value)).toEqual({ ok: true, assignment: { record, epoch: 3 } });
  });

  it("unplacing a VM leaves no assignment; copying a changed record keeps the node's key", () => {
    const evicted = placeVmOps(record, { node: "", epoch: 2, handoffFrom: "n1", recordRevision: 7 }, "n1");
    expect(evicted.map((op) => [op.type, keyOf(op)])).toEqual([
      ["put", keys.placement("web")],
      ["delete", keys.assignment("n1", "web")],
    ]);
    const synced = placeVmOps(record, { node: "n1", epoch: 2, recordRevision: 9 }, "n1");
    expect(synced.map((op) => [op.type, keyOf(op)])).toEqual([
      ["put", keys.placement("web")],
      ["put", keys.assignment("n1", "web")],
    ]);
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

describe("deleting a VM with volumes", () => {
  it("writes one detach event per volume, and nothing to the volumes' records", () => {
    const withVolumes: VmRecord = {
      ...record,
      spec: parseVmSpec({
        name: "web",
        kernel: "/k",
        volumes: [{ name: "data" }, { name: "logs", readOnly: true }],
      }),
    };
    const detach = (volume: string): TxnOp => ({ type: "put", key: `/detach/${volume}`, value: volume });
    const ops = deleteVmOps(withVolumes, "n1", event, detach);
    expect(ops.map(keyOf).filter((k) => k.startsWith("/detach/"))).toEqual(["/detach/data", "/detach/logs"]);
    expect(ops.map(keyOf).some((k) => k.startsWith(keys.volumesPrefix))).toBe(false);
  });
});
