import { describe, expect, it } from "vitest";
import { serviceMembers } from "./service-members.js";
import { initialStatus, type Placement, type VmRecord, type VmStatus } from "./vm-record.js";
import { parseVmSpec } from "./vm-spec.js";

function vm(name: string, extra: Partial<VmRecord> = {}): VmRecord {
  return {
    name,
    spec: parseVmSpec({ name, network: "bridge", kernel: "/images/vmlinuz" }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: "2026-12-03T00:00:00.000Z",
    group: "web",
    address: `10.88.0.${name.length + Number(name.slice(-1))}`,
    ...extra,
  };
}

function running(node: string, health: VmStatus["health"] = "healthy"): VmStatus {
  return { ...initialStatus(node, "2026-12-03T00:00:00.000Z", 0), phase: "Running", health };
}

const service = { group: "web", targetPort: 8080 };

describe("serviceMembers", () => {
  it("takes the group's running bridge-mode VMs that are healthy or have no health check", () => {
    const vms = [vm("web-1"), vm("web-2"), vm("api-1", { group: "api" })];
    const statuses = new Map([
      ["web-1", running("n1")],
      ["web-2", running("n2", "none")],
      ["api-1", running("n1")],
    ]);
    expect(serviceMembers(service, { vms, statuses })).toEqual([
      { vm: "web-1", address: vms[0]!.address, port: 8080 },
      { vm: "web-2", address: vms[1]!.address, port: 8080 },
    ]);
  });

  it("drops a member as soon as its status says unhealthy, starting or not Running", () => {
    const vms = [vm("web-1"), vm("web-2"), vm("web-3"), vm("web-4")];
    const statuses = new Map<string, VmStatus>([
      ["web-1", running("n1", "unhealthy")],
      ["web-2", running("n1", "starting")],
      ["web-3", { ...running("n1", "none"), phase: "Failed" }],
      ["web-4", running("n1")],
    ]);
    expect(serviceMembers(service, { vms, statuses }).map((m) => m.vm)).toEqual(["web-4"]);
  });

  it("leaves out VMs without a cluster address, being deleted, desired stopped or without a status", () => {
    const vms = [
      vm("web-1", { address: undefined }),
      vm("web-2", { deleting: true }),
      vm("web-3", { desiredState: "stopped" }),
      vm("web-4"),
    ];
    const statuses = new Map(["web-1", "web-2", "web-3"].map((n) => [n, running("n1")]));
    expect(serviceMembers(service, { vms, statuses })).toEqual([]);
  });

  it("ignores a status from a node the VM is no longer placed on (a stale report after a move)", () => {
    const vms = [vm("web-1"), vm("web-2")];
    const statuses = new Map([
      ["web-1", running("old-node")],
      ["web-2", running("n2")],
    ]);
    const placement = (node: string): Placement => ({ node, epoch: 2, recordRevision: 1 });
    const placements = new Map([
      ["web-1", placement("n1")],
      ["web-2", placement("n2")],
    ]);
    expect(serviceMembers(service, { vms, statuses, placements }).map((m) => m.vm)).toEqual(["web-2"]);
  });
});
