import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { VmSchema } from "../gen/blixard/v1/vm_pb.js";
import { renderTable, vmDetail, vmJson, vmTable } from "./output.js";

const vm = create(VmSchema, {
  name: "web",
  desiredState: "running",
  spec: {
    name: "web",
    vcpus: 1,
    memory: 256,
    kernel: "/k",
    forwards: [{ host: 8080, guest: 80, protocol: "tcp" }],
  },
  status: { phase: "Running", node: "node-a", pid: 4242, restarts: 1, health: "healthy" },
});

describe("output", () => {
  it("prints the documented JSON shape", () => {
    expect(vmJson(vm)).toMatchObject({
      name: "web",
      spec: { name: "web", vcpus: 1, memory: 256, kernel: "/k" },
      status: { phase: "Running", node: "node-a", pid: 4242, restarts: 1, health: "healthy" },
    });
  });

  it("prints a null pid for a VM that is not running", () => {
    const stopped = create(VmSchema, { name: "x", status: { phase: "Stopped" } });
    expect((vmJson(stopped)["status"] as Record<string, unknown>)["pid"]).toBeNull();
  });

  it("aligns table columns", () => {
    expect(renderTable(["A", "BB"], [["long", "x"]])).toBe("A      BB\nlong   x\n");
  });

  it("lists VMs with phase, pid and forwards", () => {
    const lines = vmTable([vm]).split("\n");
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+HEALTH\s+PID\s+RESTARTS/);
    expect(lines[1]).toMatch(/^web\s+Running\s+healthy\s+4242\s+1\s+1\s+256Mi\s+-\s+8080->80\s+node-a\s+-$/);
  });

  it("shows a bridge-mode VM's cluster address in the IP column and the detail", () => {
    const bridged = create(VmSchema, {
      name: "db",
      spec: { name: "db", kernel: "/k", network: "bridge", vcpus: 1, memory: 256 },
      status: { phase: "Running", node: "node-b", address: "10.88.4.2" },
    });
    expect(vmTable([bridged]).split("\n")[1]).toMatch(/^db\s+Running\s.*\s10\.88\.4\.2\s+-\s+node-b\s/);
    expect(vmDetail(bridged)).toMatch(/^Address:\s+10\.88\.4\.2$/m);
    expect(vmDetail(bridged)).toMatch(/^Network:\s+bridge$/m);
    expect(vmJson(bridged)).toMatchObject({ status: { address: "10.88.4.2" } });
  });

  it("shows a microvm-nix VM's runner source instead of a kernel", () => {
    const nix = create(VmSchema, {
      name: "api",
      spec: {
        name: "api",
        driver: "microvm-nix",
        microvm: { flake: "path:/srv/vms#api", hypervisor: "cloud-hypervisor" },
      },
      status: { phase: "Running" },
    });
    const detail = vmDetail(nix);
    expect(detail).toMatch(/^Driver:\s+microvm-nix$/m);
    expect(detail).toMatch(/^Runner:\s+flake path:\/srv\/vms#api$/m);
    expect(detail).toMatch(/^Hypervisor:\s+cloud-hypervisor$/m);
    expect(detail).not.toMatch(/^Kernel:/m);
    expect(vmDetail(vm)).toMatch(/^Kernel:\s+\/k$/m);
  });
});
