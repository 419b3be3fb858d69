import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, isAlive, TestNode } from "./harness.js";

describe("stop escalation with a real qemu VM", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.start(["--graceful-stop-timeout", "3"]);
  });
  afterAll(async () => node?.destroy());

  it("stops a guest that ignores Ctrl-Alt-Del through QMP quit after the graceful timeout", async () => {
    const { kernel, initrd } = image();
    node.ok(
      "vm",
      "create",
      "stubborn",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--cmdline",
      "blixard.ignore_ctrlaltdel=1",
      "-f",
      "test/fixtures/health-console.toml",
      "--start",
    );
    const pid = node.vm("stubborn").status.pid!;
    const started = Date.now();
    expect(node.ok("vm", "stop", "stubborn")).toContain("vm/stubborn stopped");
    const elapsed = Date.now() - started;
    const vm = node.vm("stubborn");
    expect(vm.status.phase).toBe("Stopped");
    expect(vm.status.message).toBe("stopped (quit)");
    expect(isAlive(pid)).toBe(false);
    // It waited out the graceful step before escalating.
    expect(elapsed).toBeGreaterThanOrEqual(3000);
  });
});
