import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, getFrom, image, isAlive, TestNode, until } from "./harness.js";

describe("VM lifecycle with a real qemu VM", () => {
  let node: TestNode;
  let port: number;

  beforeAll(async () => {
    node = await TestNode.start();
    port = await freePort();
  });
  afterAll(async () => node?.destroy());

  it("creates and starts a VM that boots, passes its HTTP health check and serves its forwarded port", async () => {
    const { kernel, initrd } = image();
    const out = node.ok(
      "vm",
      "create",
      "web",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--memory",
      "256",
      "--forward",
      `${port}:80`,
      "-f",
      "test/fixtures/health-http.yaml",
      "--start",
    );
    expect(out).toContain("vm/web running");
    const vm = node.vm("web");
    expect(vm.status).toMatchObject({ phase: "Running", health: "healthy", restarts: 0 });
    expect(vm.status.node).not.toBe("");
    expect(isAlive(vm.status.pid!)).toBe(true);
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(page).toContain("web");
  });

  it("shows the serial console with the guest's readiness line", async () => {
    const logs = node.ok("vm", "logs", "web");
    expect(logs).toContain("BLIXARD-READY name=web");
    const tail = node.ok("vm", "logs", "web", "--tail", "1");
    expect(tail.trim().split("\n")).toHaveLength(1);
  });

  it("streams the whole retained console with --tail all, byte for byte as the log file holds it", () => {
    const all = node.ok("vm", "logs", "web", "--tail", "all");
    const file = readFileSync(join(node.dataDir, "vms", "web", "console.log"), "utf8");
    // The guest may have written more since the CLI read it, never less.
    expect(file.startsWith(all)).toBe(true);
    expect(all.length).toBeGreaterThan(file.length / 2);
    expect(all).toContain("BLIXARD-READY name=web");
  });

  it("lists the VM as Running in table, JSON and YAML", () => {
    expect(node.ok("vm", "list")).toMatch(/^web\s+Running\s+healthy/m);
    const list = JSON.parse(node.ok("vm", "list", "-o", "json")) as {
      name: string;
      status: { phase: string };
    }[];
    expect(list.map((v) => [v.name, v.status.phase])).toEqual([["web", "Running"]]);
    expect(node.ok("vm", "get", "web", "-o", "yaml")).toMatch(/phase: Running/);
  });

  it("exports VMs by phase and the time to ready as Prometheus metrics", async () => {
    const auth = { authorization: `Bearer ${node.adminToken()}` };
    const text = (await getFrom(node, "/metrics", auth)).body;
    expect(text).toMatch(/^blixard_vms\{phase="Running"\} 1$/m);
    expect(text).toMatch(/^blixard_vm_time_to_ready_seconds_count 1$/m);
    expect(text).toMatch(/^blixard_reconcile_duration_seconds_count [1-9]\d*$/m);
    expect(text).toContain("blixard_vm_restarts_total");
  });

  it("stops the VM gracefully and reports it Stopped", () => {
    const pid = node.vm("web").status.pid!;
    expect(node.ok("vm", "stop", "web")).toContain("vm/web stopped");
    const vm = node.vm("web");
    expect(vm.status).toMatchObject({ phase: "Stopped", pid: null });
    expect(vm.status.message).toContain("graceful");
    expect(isAlive(pid)).toBe(false);
  });

  it("starts it again with a new process", () => {
    node.ok("vm", "start", "web");
    const vm = node.vm("web");
    expect(vm.status.phase).toBe("Running");
    expect(isAlive(vm.status.pid!)).toBe(true);
  });

  it("restarts it on request without counting a failure", () => {
    const before = node.vm("web").status.pid!;
    expect(node.ok("vm", "restart", "web")).toContain("vm/web restarted");
    const vm = node.vm("web");
    expect(vm.status.pid).not.toBe(before);
    expect(vm.status.restarts).toBe(0);
    expect(isAlive(before)).toBe(false);
  });

  it("deletes the VM, its process and its state directory", async () => {
    const pid = node.vm("web").status.pid!;
    expect(existsSync(node.vmDir("web"))).toBe(true);
    expect(node.ok("vm", "delete", "web")).toContain("vm/web deleted");
    await until("qemu to exit", () => !isAlive(pid));
    expect(existsSync(node.vmDir("web"))).toBe(false);
    const res = node.cli("vm", "get", "web");
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/^error: VM "web" not found/);
    expect(node.qemuPids()).toEqual([]);
  });

  it("kept every transition of the VM in the event log, in order", () => {
    const events = JSON.parse(node.ok("events", "--vm", "web", "-o", "json")) as {
      type: string;
      node: string;
    }[];
    const types = events.map((e) => e.type);
    // created → scheduled → starting → running, then stop, start, restart and delete.
    expect(types.slice(0, 4)).toEqual(["created", "scheduled", "starting", "running"]);
    expect(types).toContain("stopped");
    expect(types.at(-1)).toBe("deleted");
    expect(types.filter((t) => t === "starting").length).toBeGreaterThanOrEqual(3);
    expect(events.slice(1).every((e) => e.node !== "")).toBe(true);
    const table = node.ok("events", "--vm", "web", "--limit", "2");
    expect(table).toMatch(/^TIME\s+TYPE\s+VM\s+NODE\s+ACTOR\s+REASON/);
    expect(table.trim().split("\n")).toHaveLength(3);
  });
});
