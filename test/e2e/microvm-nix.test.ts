/**
 * The microvm-nix driver end to end, through the CLI and the daemon: a node that offers the driver
 * runs a VM from a runner directory in microvm.nix's layout that boots the real qemu test guest
 * (testing/microvm-runner.ts), re-adopts it after the daemon is SIGKILLed, stops and deletes it.
 * No Nix is needed: the runner is prebuilt. The node jails it (--isolation strict), so the runner,
 * kernel and initrd sit in a world-readable directory, as in the Nix store; runner helpers that need
 * root (tap-up) are covered by the driver's integration test and refused here (microvm-nix-jail).
 * Its processes are killed by the pids in their launch records, since the harness finds qemu
 * processes by command line and these use relative paths.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostCwdCandidates } from "../../src/drivers/jail/jail-view.js";
import { hostTscKhz } from "../../src/drivers/qemu/host-tsc.js";
import { isVmProcess, procCwd } from "../../src/drivers/shared/process-probe.js";
import { writeRunnerFixture } from "../../src/testing/microvm-runner.js";
import { freePort, image, isAlive, TestNode, until } from "./harness.js";

describe("microvm-nix VMs from a prebuilt runner", () => {
  let node: TestNode;
  let runnerRoot: string;
  let runner: string;
  let hostPort: number;

  /** The live processes of the node's VMs, from the pids in their launch records. */
  async function vmProcesses(): Promise<{ pid: number; stateDir: string }[]> {
    const vms = join(node.dataDir, "vms");
    const found: { pid: number; stateDir: string }[] = [];
    for (const name of existsSync(vms) ? readdirSync(vms) : []) {
      const stateDir = join(vms, name);
      try {
        const record = JSON.parse(readFileSync(join(stateDir, "vm.json"), "utf8")) as { pid: number };
        if (await isVmProcess(record.pid, stateDir)) found.push({ pid: record.pid, stateDir });
      } catch {
        // No launch record: nothing was started.
      }
    }
    return found;
  }

  beforeAll(async () => {
    runnerRoot = mkdtempSync(join(tmpdir(), "blixard-e2e-runner-"));
    chmodSync(runnerRoot, 0o755);
    hostPort = await freePort();
    // Copies the VM's uid can read: the image itself lives under /root/.cache.
    const kernel = join(runnerRoot, "vmlinuz");
    const initrd = join(runnerRoot, "initrd.img");
    copyFileSync(image().kernel, kernel);
    copyFileSync(image().initrd, initrd);
    runner = writeRunnerFixture({
      dir: join(runnerRoot, "microvm-qemu-web"),
      name: "web",
      kernel,
      initrd,
      forwards: [{ host: hostPort, guest: 80 }],
      // As the qemu driver does under TCG: without it the guest may hang calibrating its TSC.
      tscKhz: hostTscKhz(),
    });
    node = await TestNode.start(["--microvm-nix", "on", "--graceful-stop-timeout", "20"]);
  });

  afterAll(async () => {
    if (node) {
      const left = await vmProcesses();
      // The daemon goes first, so that nothing restarts the VMs; its data dir goes with it, so a
      // process still counts as the VM's while its working directory is (was) the VM's state dir.
      await node.destroy();
      for (const { pid, stateDir } of left) {
        const cwd = await procCwd(pid);
        if (isAlive(pid) && cwd && hostCwdCandidates(stateDir).includes(cwd)) process.kill(pid, "SIGKILL");
      }
    }
    rmSync(runnerRoot, { recursive: true, force: true });
  });

  it("registers the node with both drivers", () => {
    const nodes = JSON.parse(node.ok("node", "list", "-o", "json")) as { capacity: { drivers: string[] } }[];
    expect(nodes[0]?.capacity.drivers).toEqual(["qemu", "microvm-nix"]);
  });

  it("rejects a kernel on a microvm-nix VM, naming the field and the fix", () => {
    const { kernel } = image();
    const res = node.cli("vm", "create", "bad", "--driver", "microvm-nix", "--kernel", kernel);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(
      /spec\.kernel: the microvm-nix driver boots the kernel its NixOS configuration builds/,
    );
  });

  it("runs the runner's microvm-run jailed in the VM's state dir, until the guest is healthy", async () => {
    node.ok("vm", "create", "web", "--runner", runner, "-f", "test/fixtures/health-console.toml", "--start");
    const vm = node.vm("web");
    expect(vm.spec).toMatchObject({ driver: "microvm-nix", microvm: { runner } });
    expect(vm.status.phase).toBe("Running");
    const stateDir = node.vmDir("web");
    // Jailed, its working directory reads from the host through its own filesystem view.
    expect(await procCwd(vm.status.pid!)).toBe(hostCwdCandidates(stateDir)[1]);
    expect(readFileSync(join(stateDir, "events.log"), "utf8")).toBe("microvm-run\n");
    expect(readFileSync(join(stateDir, "driver"), "utf8")).toBe("microvm-nix\n");
    // Jailed: the state dir is the VM uid's alone, and so is its process.
    const uid = statSync(stateDir).uid;
    expect(uid).toBeGreaterThan(0);
    expect(statSync(`/proc/${vm.status.pid}`).uid).toBe(uid);
    await until("the guest to be healthy", () => node.vm("web").status.health === "healthy" || undefined);
    expect(node.ok("vm", "logs", "web")).toContain("BLIXARD-READY");
    // The guest's HTTP server answers on the forward the runner's qemu set up.
    const body = await until("the guest's HTTP server", () =>
      fetch(`http://127.0.0.1:${hostPort}/`).then(
        (r) => r.text(),
        () => undefined,
      ),
    );
    expect(body.length).toBeGreaterThan(0);
  });

  it("keeps the VM running when the daemon is SIGKILLed, and re-adopts it with the same pid", async () => {
    const before = node.vm("web");
    await node.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 1500));
    expect(isAlive(before.status.pid!)).toBe(true);
    await node.launch();
    await new Promise((r) => setTimeout(r, 3000));
    const after = node.vm("web");
    expect(after.status).toMatchObject({ phase: "Running", pid: before.status.pid, restarts: 0 });
    expect(node.log()).toContain("re-adopted running VM");
    expect(readFileSync(join(node.vmDir("web"), "events.log"), "utf8")).toBe("microvm-run\n");
  });

  it("stops it with microvm-shutdown and waits for the guest to power off", async () => {
    const pid = node.vm("web").status.pid!;
    expect(node.ok("vm", "stop", "web")).toContain("vm/web stopped");
    const vm = node.vm("web");
    expect(vm.status.phase).toBe("Stopped");
    expect(vm.status.message).toBe("stopped (graceful)");
    expect(isAlive(pid)).toBe(false);
    expect(readFileSync(join(node.vmDir("web"), "events.log"), "utf8")).toBe(
      "microvm-run\nmicrovm-shutdown\n",
    );
  });

  it("deletes the VM with its state dir", () => {
    expect(node.ok("vm", "delete", "web")).toContain("vm/web deleted");
    expect(existsSync(node.vmDir("web"))).toBe(false);
  });
});
