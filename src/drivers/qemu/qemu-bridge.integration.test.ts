/**
 * Integration test (e2e project): the qemu driver in bridge mode with a real jailed TCG guest. The VM's
 * tap is made owned by its jail uid and enslaved to a bridge, qemu's NIC carries the MAC derived from
 * the VM's address, a driver made after a "node restart" finds the tap in the launch record and stop
 * deletes it. The attacks: another uid's qemu opening the VM's tap (the kernel refuses), and a second
 * VM handed a tap that is in use (the driver refuses, and the first VM keeps its tap).
 *
 * qemu must run in the network namespace of its tap, and the driver spawns it in the node's own, so
 * the bridge and taps are made in the host's namespace, under names unique to this run (a bridge with
 * no address, taps derived from addresses no other test uses), and removed by name afterwards.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import { bridgeAttachment } from "../../core/vm-network.js";
import { parseVmSpec } from "../../core/vm-spec.js";
import { DnsmasqProcess } from "../../net/dnsmasq-process.js";
import { HostTools } from "../../net/host-tools.js";
import { showLink } from "../../net/links.js";
import { ensureTap, removeTap } from "../../net/tap.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import type { StopOptions } from "../../ports/vm-driver.js";
import { imageDir } from "../../testing/test-image.js";
import { nodeCgroupGroup } from "../jail/cgroups.js";
import { openToVmGroup } from "../jail/data-dir-access.js";
import { probeHostIsolation } from "../jail/host-isolation.js";
import { jailedCommand } from "../jail/jail-command.js";
import { JAILED_ENV } from "../jail/jailed-env.js";
import { removeJailLeftovers } from "../jail/leftovers.js";
import { VmJail } from "../jail/vm-jail.js";
import { findOnPath } from "../shared/find-on-path.js";
import { isVmProcess } from "../shared/process-probe.js";
import { QemuDriver } from "./qemu-driver.js";
import { qmpOnce } from "./qmp-client.js";
import { vmPaths } from "./vm-paths.js";

const IMAGE_DIR = imageDir();
const STOP: StopOptions = { gracefulTimeoutMs: 30_000, quitTimeoutMs: 10_000, killTimeoutMs: 5_000 };
const TEST_MS = 180_000;
const QEMU = findOnPath("qemu-system-x86_64") ?? "qemu-system-x86_64";
const net = new HostTools();
/** Names unique to this run: the bridge, and addresses (so taps) no other test derives. */
const BRIDGE = `blxq${process.pid.toString(36)}`.slice(0, 15);
const ADDRESS_A = `10.254.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const ADDRESS_B = `10.253.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const SPARE_TAP = bridgeAttachment(`10.252.${(process.pid >> 8) & 255}.${process.pid & 255}`).tap;
const attach = (address: string) => ({ ...bridgeAttachment(address), bridge: BRIDGE });
/** The bridge's own address: the guest's gateway and DHCP server (the guest waits for its lease). */
const GATEWAY = ADDRESS_A === "10.254.0.1" ? "10.254.0.2" : "10.254.0.1";
let dnsmasq: DnsmasqProcess | undefined;

let vmsDir: string;
const drivers: QemuDriver[] = [];

function newDriver(jail: VmJail): QemuDriver {
  const driver = new QemuDriver({
    vmsDir,
    accel: "tcg",
    logger: silentLogger,
    clock: systemClock,
    jail,
    net,
  });
  drivers.push(driver);
  return driver;
}

function hostJail(): VmJail {
  const host = probeHostIsolation({ mode: "strict" });
  if (!host.cgroup || host.missing.length > 0)
    throw new Error(`cannot jail here: ${host.missing.join("; ")}`);
  return new VmJail({
    cgroup: { ...host.cgroup, group: nodeCgroupGroup(vmsDir) },
    mountNamespace: host.mountNamespace,
  });
}

function spec(name: string) {
  return parseVmSpec({
    name,
    kernel: path.join(IMAGE_DIR, "vmlinuz"),
    initrd: path.join(IMAGE_DIR, "initrd.img"),
    memory: 256,
    network: "bridge",
  });
}

/**
 * Another VM's jail (its own uid, its own /dev/net/tun in its view, no capabilities), in which a
 * qemu tries to open `tap`. Returns qemu's stderr, or "" when qemu opened it and waited (-S).
 */
async function openTapFromOtherJail(
  jail: VmJail,
  name: string,
  tap: string,
): Promise<{ uid: number; stderr: string }> {
  const stateDir = vmPaths(vmsDir, name).stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const kernel = path.join(IMAGE_DIR, "vmlinuz");
  const jailed = await jail.enter(
    name,
    stateDir,
    { memory: 64, vcpus: 1 },
    { kernel },
    {
      devices: ["/dev/net/tun"],
      programs: [QEMU],
    },
  );
  try {
    const [binary, ...args] = jailedCommand(jailed.plan, QEMU, [
      ...["-M", "microvm", "-accel", "tcg", "-nodefaults", "-display", "none", "-S"],
      ...["-netdev", `tap,id=net0,ifname=${tap},script=no,downscript=no`],
    ]) as [string, ...string[]];
    const result = spawnSync(binary, args, {
      encoding: "utf8",
      timeout: 5_000,
      killSignal: "SIGKILL",
      env: JAILED_ENV,
      cwd: stateDir,
    });
    return { uid: jailed.uid, stderr: result.signal === "SIGKILL" ? "" : result.stderr };
  } finally {
    await jail.leave(name);
  }
}

/** Follows the console until the guest's init announces readiness (it boots with blixard.net=dhcp). */
async function waitReady(driver: QemuDriver, name: string): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 120_000);
  let text = "";
  try {
    for await (const chunk of driver.followLogs(name, 0, controller.signal)) {
      text += chunk;
      if (/BLIXARD-READY name=/.test(text)) return;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  const stderr = readFileSync(vmPaths(vmsDir, name).stderrLog, "utf8").slice(-2_000);
  throw new Error(`${name} never became ready; console:\n${text.slice(-2_000)}\nqemu stderr:\n${stderr}`);
}

beforeAll(async () => {
  const root = mkdtempSync(path.join(tmpdir(), "blixard-br-"));
  vmsDir = path.join(root, "vms");
  mkdirSync(vmsDir);
  await openToVmGroup(root, vmsDir);
  execFileSync("ip", ["link", "add", "name", BRIDGE, "type", "bridge"]);
  execFileSync("ip", ["link", "set", BRIDGE, "up"]);
  execFileSync("ip", ["addr", "add", `${GATEWAY}/16`, "dev", BRIDGE]);
  dnsmasq = new DnsmasqProcess({
    settings: {
      dir: path.join(root, "dnsmasq"),
      bridge: BRIDGE,
      bridgeAddress: GATEWAY,
      vmCidr: "10.254.0.0/16",
      mtu: 1450,
      domain: "test.internal",
    },
    clock: systemClock,
    logger: silentLogger,
    tools: net,
  });
  await dnsmasq.start();
  const a = attach(ADDRESS_A);
  await dnsmasq.writeHosts([{ mac: a.mac, address: a.address }], []);
});

afterAll(async () => {
  await dnsmasq?.stop();
  await dnsmasq?.removeFiles();
  for (const driver of drivers.splice(0)) {
    for (const name of await driver.list()) {
      const runtime = await driver.inspect(name);
      if (runtime.state === "running" && (await isVmProcess(runtime.pid, vmPaths(vmsDir, name).stateDir))) {
        process.kill(runtime.pid, "SIGKILL");
      }
    }
  }
  for (const address of [ADDRESS_A, ADDRESS_B]) await removeTap(net, bridgeAttachment(address).tap);
  await removeTap(net, SPARE_TAP);
  execFileSync("ip", ["link", "del", BRIDGE]);
  await removeJailLeftovers(vmsDir);
  rmSync(path.dirname(vmsDir), { recursive: true, force: true });
});

describe("QemuDriver in bridge mode", () => {
  it("refuses to start a bridge-mode VM on a node without the bridge, and leaves no tap", async () => {
    const driver = newDriver(hostJail());
    const missing = { ...attach(ADDRESS_B), bridge: `${BRIDGE}x`.slice(0, 15) };
    await driver.prepare("br-none", spec("br-none"));
    const err = await driver.start("br-none", spec("br-none"), { bridge: missing }).catch((e: unknown) => e);
    expect(isBlixardError(err, "FAILED_PRECONDITION")).toBe(true);
    expect((err as Error).message).toMatch(/--bridge-network on/);
    expect(await showLink(net, missing.tap)).toBeUndefined();
    await driver.remove("br-none");
  });

  it(
    "plugs a jailed VM into the bridge through a tap of its own uid, with the derived MAC; stop deletes the tap",
    async () => {
      const driver = newDriver(hostJail());
      const a = attach(ADDRESS_A);
      await driver.prepare("br-a", spec("br-a"));
      const started = await driver.start("br-a", spec("br-a"), { bridge: a });
      await waitReady(driver, "br-a");
      // The guest took its lease (sent from its NIC's MAC): the bridge learnt that MAC on the VM's tap.
      const fdb = execFileSync("bridge", ["-j", "fdb", "show", "br", BRIDGE], { encoding: "utf8" });
      expect(JSON.parse(fdb)).toContainEqual(expect.objectContaining({ mac: a.mac, ifname: a.tap }));

      const uid = Number(
        /^Uid:\t(\d+)/m.exec(execFileSync("cat", [`/proc/${started.pid}/status`], { encoding: "utf8" }))?.[1],
      );
      expect(uid).toBeGreaterThan(0);
      const tap = await showLink(net, a.tap);
      expect(tap?.master).toBe(BRIDGE);
      expect(tap?.mtu).toBe(1450);
      expect(tap?.linkinfo?.info_data).toMatchObject({ type: "tap", persist: true, user: uid, group: uid });
      // qemu has the tap open: its carrier is up.
      expect(tap?.flags).toContain("LOWER_UP");

      const paths = vmPaths(vmsDir, "br-a");
      const filters = await qmpOnce<{ "main-mac": string }[]>(paths.qmpSocket, "query-rx-filter", undefined, {
        clock: systemClock,
        timeoutMs: 5_000,
      });
      expect(filters.map((f) => f["main-mac"])).toEqual([a.mac]);
      const cmdline = execFileSync("cat", [`/proc/${started.pid}/cmdline`], { encoding: "utf8" }).split("\0");
      expect(cmdline.join(" ")).toContain("blixard.net=dhcp");
      expect(cmdline.join(" ")).not.toContain("passt");
      expect(cmdline[cmdline.indexOf("-sandbox") + 1]).toMatch(/^on,/);

      // The attack: another VM's jailed qemu (its own uid, no capabilities) opening this VM's tap.
      // The kernel refuses it.
      const evilJail = hostJail();
      const evil = await openTapFromOtherJail(evilJail, "br-evil", a.tap);
      expect(evil.uid).not.toBe(uid);
      expect(evil.stderr).toMatch(/could not configure \/dev\/net\/tun.*Operation not permitted/);
      // The same jailed qemu does open a tap its uid owns: the refusal above is the tap's owner check.
      await ensureTap(net, { tap: SPARE_TAP, bridge: BRIDGE, mtu: 1450, uid: evil.uid, gid: evil.uid });
      expect((await openTapFromOtherJail(evilJail, "br-evil", SPARE_TAP)).stderr).toBe("");
      await removeTap(net, SPARE_TAP);

      // The attack through the driver: a second VM handed the first one's tap. It is refused, and the
      // first VM keeps its tap.
      const b = { ...attach(ADDRESS_B), tap: a.tap };
      await driver.prepare("br-b", spec("br-b"));
      const err = await driver.start("br-b", spec("br-b"), { bridge: b }).catch((e: unknown) => e);
      expect(isBlixardError(err, "FAILED_PRECONDITION")).toBe(true);
      expect((await showLink(net, a.tap))?.linkinfo?.info_data?.user).toBe(uid);
      expect((await showLink(net, a.tap))?.flags).toContain("LOWER_UP");
      // The attack through the launch record, which lives in a state dir the VM's uid owns: VM b
      // rewrites its vm.json to name VM a's tap. Removing VM b leaves VM a's tap alone.
      writeFileSync(
        vmPaths(vmsDir, "br-b").launchRecord,
        JSON.stringify({ name: "br-b", pid: 4_194_000, startedAt: 0, bridge: a }),
      );
      await driver.remove("br-b");
      expect((await showLink(net, a.tap))?.flags).toContain("LOWER_UP");

      // A node restart: a new driver adopts the VM, and its stop deletes the tap named in the record.
      const restarted = newDriver(hostJail());
      expect(await restarted.adopt("br-a")).toMatchObject({ state: "running", pid: started.pid });
      expect(await restarted.stop("br-a", STOP)).toBe("graceful");
      expect(await showLink(net, a.tap)).toBeUndefined();

      // Started again, stopped, removed: no tap is left.
      await restarted.start("br-a", spec("br-a"), { bridge: a });
      expect((await showLink(net, a.tap))?.master).toBe(BRIDGE);
      // Still booting: a short graceful timeout, then quit.
      await restarted.stop("br-a", { ...STOP, gracefulTimeoutMs: 1_000 });
      await restarted.remove("br-a");
      expect(await showLink(net, a.tap)).toBeUndefined();
    },
    TEST_MS,
  );
});
