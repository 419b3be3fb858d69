import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, isAlive, TestNode, until } from "./harness.js";

describe("recovery with real qemu VMs", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.start();
    const { kernel, initrd } = image();
    node.ok(
      "vm",
      "create",
      "app",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "-f",
      "test/fixtures/health-console.toml",
      "--start",
    );
  });
  afterAll(async () => node?.destroy());

  it("restarts a VM whose qemu process is SIGKILLed and counts one restart", async () => {
    const before = node.vm("app");
    expect(before.status).toMatchObject({ phase: "Running", restarts: 0 });
    process.kill(before.status.pid!, "SIGKILL");
    const after = await until("the VM to run again", () => {
      const vm = node.vm("app");
      return vm.status.phase === "Running" && vm.status.pid !== before.status.pid ? vm : undefined;
    });
    expect(after.status.restarts).toBe(1);
    expect(after.status.lastExit).toMatchObject({ signal: "SIGKILL", known: true });
    expect(isAlive(after.status.pid!)).toBe(true);
    expect(node.qemuPids()).toEqual([after.status.pid]);
    await until(
      "the restarted guest to be healthy again",
      () => node.vm("app").status.health === "healthy" || undefined,
    );
  });

  it("keeps the VM running with the same pid when the daemon is SIGKILLed, and re-adopts it", async () => {
    const before = node.vm("app");
    await node.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 1500));
    expect(isAlive(before.status.pid!)).toBe(true);
    await node.launch();
    // Give the agent a few reconcile passes: it must adopt, not start a second qemu.
    await new Promise((r) => setTimeout(r, 3000));
    const after = node.vm("app");
    expect(after.status).toMatchObject({
      phase: "Running",
      pid: before.status.pid,
      restarts: before.status.restarts,
    });
    expect(after.status.health).toBe("healthy");
    expect(node.qemuPids()).toEqual([before.status.pid]);
    expect(node.log()).toContain("re-adopted running VM");
  });

  it("leaves VMs running when the daemon exits on SIGTERM", async () => {
    const pid = node.vm("app").status.pid!;
    await node.kill("SIGTERM");
    expect(isAlive(pid)).toBe(true);
    await node.launch();
    expect(node.vm("app").status.pid).toBe(pid);
  });

  it("stops its VMs on exit when started with --stop-vms-on-exit", async () => {
    const pid = node.vm("app").status.pid!;
    await node.kill("SIGTERM");
    await node.launch(["--stop-vms-on-exit"]);
    await node.kill("SIGTERM");
    await until("qemu to exit", () => !isAlive(pid) || undefined, 30_000);
    expect(node.qemuPids()).toEqual([]);
  });
});
