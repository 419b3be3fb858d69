/**
 * microvm.nix runners jailed like qemu, tried as a hostile tenant would with a real guest: the
 * runner's qemu (slirp user networking, as microvm.nix's `user` interfaces give) runs as the VM's
 * uid with seccomp, no capabilities and no_new_privs, in the VM's memory-limited cgroup. slirp maps
 * the gateway 10.0.2.2 to the host's loopback, so before the jail every guest reached the node API;
 * now the nftables guard, which matches the socket's uid, rejects those connections, while the same
 * guest still reaches a server on a non-loopback address (a network namespace). A runner with tap
 * interfaces, which cannot be jailed yet, is refused rather than run unjailed. The fencing
 * watchdog's kill path still finds a jailed runner.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killNodeVms } from "../../src/daemon/watchdog/kill-vms.js";
import { hostTscKhz } from "../../src/drivers/qemu/host-tsc.js";
import { procCwd } from "../../src/drivers/shared/process-probe.js";
import { writeRunnerFixture } from "../../src/testing/microvm-runner.js";
import { image, isAlive, TestNode, until } from "./harness.js";
import {
  memoryCgroup,
  memoryLimit,
  type OutsideServer,
  probeInitrd,
  procStatus,
  startOutsideServer,
} from "./jail-probe.js";

// Not the isolation test's namespace or addresses, so both can run at once.
const NET = {
  netns: "blx-mvm-e2e",
  vethHost: "blxmvm0",
  vethNs: "blxmvm1",
  hostAddr: "198.18.0.5",
  nsAddr: "198.18.0.6",
};

describe("microvm-nix runners in the jail, with a real guest", () => {
  let node: TestNode;
  let work: string;
  let listener: Server;
  let listenerPort: number;
  let outside: OutsideServer;
  const pids: number[] = [];

  beforeAll(async () => {
    // World-readable, as the Nix store is: the VM's uid must read the runner, kernel and initrd.
    work = mkdtempSync(join(tmpdir(), "blixard-mvm-jail-"));
    chmodSync(work, 0o755);
    copyFileSync(image().kernel, join(work, "vmlinuz"));
    copyFileSync(image().initrd, join(work, "initrd.img"));
    probeInitrd(join(work, "probe-initrd.img"));
    listener = createServer((s) => s.end("secret\n"));
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    listenerPort = (listener.address() as { port: number }).port;
    outside = await startOutsideServer(work, NET);
    node = await TestNode.start(["--microvm-nix", "on", "--graceful-stop-timeout", "20"]);
  }, 120_000);

  afterAll(async () => {
    await node?.destroy();
    // The runner's qemu uses relative paths; it is killed by pid, and only while it is still ours.
    for (const pid of pids) {
      if (isAlive(pid) && (await procCwd(pid))?.includes("blixard-e2e-")) process.kill(pid, "SIGKILL");
    }
    listener?.close();
    outside?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("runs the runner's qemu as the VM's uid with seccomp, no capabilities and no_new_privs, in its memory-limited cgroup", () => {
    const runner = writeRunnerFixture({
      dir: join(work, "runner-probe"),
      name: "probe",
      kernel: join(work, "vmlinuz"),
      initrd: join(work, "probe-initrd.img"),
      memory: 256,
      tscKhz: hostTscKhz(),
      leaveBehind: true,
      cmdline: `rdinit=/probe-init probe.loop=${node.port},${listenerPort} probe.out=${outside.addr}:${outside.port}`,
    });
    node.ok("vm", "create", "probe", "--runner", runner, "--memory", "256", "--start");
    const record = JSON.parse(readFileSync(join(node.vmDir("probe"), "vm.json"), "utf8")) as {
      pid: number;
      jail?: { uid: number; command: string[] };
    };
    pids.push(record.pid);
    const s = procStatus(record.pid);
    // The attack: a guest that escapes the runner's qemu lands on an unprivileged uid with nothing
    // to escalate with, where before it was root with every capability.
    expect(readlinkSync(`/proc/${record.pid}/exe`)).toMatch(/qemu-system-x86_64$/);
    expect(record.jail?.uid).toBeGreaterThan(0);
    expect(s["Uid"]?.split("\t").every((u) => u === String(record.jail?.uid))).toBe(true);
    expect(s["CapEff"]).toBe("0000000000000000");
    expect(s["CapPrm"]).toBe("0000000000000000");
    expect(s["CapBnd"]).toBe("0000000000000000");
    expect(s["NoNewPrivs"]).toBe("1");
    expect(s["Seccomp"]).toBe("2");
    const cgroup = memoryCgroup(record.pid);
    expect(cgroup).toContain("/blixard/");
    expect(memoryLimit(cgroup)).toBe((256 + 256) * 1024 * 1024);
    // The runner writes its own files (control socket) in its state dir, which is the uid's alone.
    const stateDir = node.vmDir("probe");
    expect(readFileSync(join(stateDir, "events.log"), "utf8")).toBe("microvm-run\n");
    expect(existsSync(join(stateDir, "control.socket"))).toBe(true);
  }, 240_000);

  it("gives a slirp guest no way to the host's loopback, and still a way out to other addresses", async () => {
    const lines = await until(
      "the probe to finish",
      () => {
        const out = node
          .ok("vm", "logs", "probe")
          .split(/\r?\n/)
          .filter((l) => l.startsWith("PROBE"));
        return out.some((l) => l.startsWith("PROBE done")) ? out : undefined;
      },
      180_000,
    );
    // The node API and a test listener, through slirp's gateway (the host's loopback) and DNS address.
    const loop = lines.filter((l) => l.startsWith("PROBE loop "));
    expect(loop).toHaveLength(4);
    for (const line of loop) expect(line).toMatch(/ closed$/);
    // The guest's root routing 127.0.0.0/8 out of its NIC gets nothing either.
    const direct = lines.filter((l) => l.startsWith("PROBE direct "));
    expect(direct).toHaveLength(2);
    for (const line of direct) expect(line).toMatch(/ closed$/);
    // "closed" is the jail, not a broken probe: the same test reaches a listening port elsewhere.
    // (The guard's counters would show it too, but every node start on the host resets them.)
    expect(lines).toContain(`PROBE control ${outside.addr}:${outside.port} open`);
    expect(lines).toContain("PROBE out hello-from-outside");
  }, 240_000);

  it("stops the jailed runner with microvm-shutdown (QMP as root), kills what it left in its cgroup, and deletes it", async () => {
    const pid = node.vm("probe").status.pid!;
    expect(node.ok("vm", "stop", "probe")).toContain("vm/probe stopped");
    expect(isAlive(pid)).toBe(false);
    expect(readFileSync(join(node.vmDir("probe"), "events.log"), "utf8")).toBe(
      "microvm-run\nmicrovm-shutdown\n",
    );
    // The attack: a process the VM forked (a taken-over qemu may spawn) outliving the VM as its uid.
    const survivor = Number(readFileSync(join(node.vmDir("probe"), "survivor.pid"), "utf8"));
    expect(survivor).toBeGreaterThan(0);
    await until("the VM's leftover process to be killed", () => !isAlive(survivor) || undefined, 10_000);
    expect(node.ok("vm", "delete", "probe")).toContain("vm/probe deleted");
  }, 120_000);

  it("refuses a runner with tap interfaces rather than running it unjailed", async () => {
    const runner = writeRunnerFixture({
      dir: join(work, "runner-tap"),
      name: "tapped",
      kernel: join(work, "vmlinuz"),
      initrd: join(work, "initrd.img"),
      tap: true,
    });
    node.cli("vm", "create", "tapped", "--runner", runner, "--start", "--no-wait");
    const message = await until("the refusal", () => {
      const m = node.vm("tapped").status.message ?? "";
      return /cannot run jailed/.test(m) ? m : undefined;
    });
    expect(message).toMatch(/tap interfaces/);
    expect(message).toMatch(/--isolation none/);
    // Nothing ran: neither tap-up (as root) nor microvm-run.
    expect(existsSync(join(node.vmDir("tapped"), "events.log"))).toBe(false);
  }, 120_000);

  it("lets the fencing watchdog's kill path find and kill a jailed runner's qemu", async () => {
    const runner = writeRunnerFixture({
      dir: join(work, "runner-fenced"),
      name: "fenced",
      kernel: join(work, "vmlinuz"),
      initrd: join(work, "initrd.img"),
      tscKhz: hostTscKhz(),
    });
    node.ok("vm", "create", "fenced", "--runner", runner, "--start");
    const pid = node.vm("fenced").status.pid!;
    pids.push(pid);
    // Another uid's process, found by its working directory (the runner's paths are relative).
    expect(procStatus(pid)["Uid"]?.split("\t")[0]).not.toBe("0");
    const killed = await killNodeVms(join(node.dataDir, "vms"));
    expect(killed).toContainEqual({ name: "fenced", pid });
    await until("the fenced runner to die", () => !isAlive(pid) || undefined);
  }, 120_000);
});
