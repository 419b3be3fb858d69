/**
 * The guest image's DHCP client and test probe, without Blixard: a network namespace with a bridge,
 * dnsmasq run by hand on it (a static lease for one MAC, DNS names from an addn-hosts file, MTU
 * 1450), a tap on the bridge and qemu on the tap with `blixard.net=dhcp blixard.probe=1`. The guest
 * must take the leased address, MTU and DNS server, say the address on its READY line, serve HTTP
 * there, resolve a name dnsmasq serves and fetch a URL through the probe; the probe must refuse * query strings that try to inject into its shell or commands. A guest whose MAC has no lease must
 * never announce readiness, and a lease with an MTU that would cut the guest off is not applied.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteNetns, inNetns, netnsList, run, uniqueName } from "../../src/testing/netns-hosts.js";
import { image, isAlive, until } from "./harness.js";

const SUBNET = "10.252.77";
const HOST_IP = `${SUBNET}.1`;
const GUEST_IP = `${SUBNET}.7`;
const GUEST_MAC = "02:b1:0a:fc:4d:07";
const STRANGER_MAC = "02:b1:0a:fc:4d:08";
const TINY_IP = `${SUBNET}.9`;
const TINY_MAC = "02:b1:0a:fc:4d:09";
const DOMAIN = "blixard.internal";

describe("guest image with blixard.net=dhcp and blixard.probe=1", () => {
  const ns = uniqueName("blx-gd-");
  const dir = mkdtempSync(join(tmpdir(), "blixard-guest-dhcp-"));
  const procs: ChildProcess[] = [];
  const marker = `served-${uniqueName("")}`;

  /** Starts argv in the namespace as a child of this test (killed by pid in afterAll). */
  const start = (argv: string[]): ChildProcess => {
    const [cmd, ...args] = inNetns(ns, argv);
    const child = spawn(cmd!, args, { stdio: "ignore" });
    procs.push(child);
    return child;
  };

  const bootGuest = (name: string, mac: string, tap: string): { console: string } => {
    const consoleLog = join(dir, `${name}.console`);
    writeFileSync(consoleLog, "");
    const { kernel, initrd } = image();
    // The same machine as the qemu driver's, on a tap (no passt) as bridge mode runs it.
    start([
      "qemu-system-x86_64",
      ...["-M", "microvm", "-accel", "tcg", "-icount", "shift=auto", "-m", "128", "-smp", "1"],
      ...["-nodefaults", "-no-user-config", "-no-reboot", "-display", "none"],
      ...["-kernel", kernel, "-initrd", initrd],
      ...["-append", `console=ttyS0 panic=-1 blixard.name=${name} blixard.net=dhcp blixard.probe=1`],
      ...["-serial", `file:${consoleLog}`, "-global", "virtio-mmio.force-legacy=false"],
      ...["-netdev", `tap,id=net0,ifname=${tap},script=no,downscript=no`],
      ...["-device", `virtio-net-device,netdev=net0,mac=${mac}`],
    ]);
    return { console: consoleLog };
  };

  /** GET from inside the namespace (the guest's address is only reachable there): status and body. */
  const get = (url: string): { status: number; body: string } => {
    const res = spawnSync(
      "ip",
      ["netns", "exec", ns, "curl", "-s", "-g", "--max-time", "20", "-w", "\n%{http_code}", url],
      { encoding: "utf8", timeout: 30_000 },
    );
    const cut = res.stdout.lastIndexOf("\n");
    return { status: Number(res.stdout.slice(cut + 1)), body: res.stdout.slice(0, cut) };
  };
  const probe = (query: string) => get(`http://${GUEST_IP}/cgi-bin/${query}`);

  let guest: { console: string };
  let stranger: { console: string };
  let tiny: { console: string };

  beforeAll(async () => {
    run(["ip", "netns", "add", ns]);
    const ip = (...args: string[]) => run(inNetns(ns, ["ip", ...args]));
    ip("link", "set", "lo", "up");
    ip("link", "add", "br0", "type", "bridge");
    ip("addr", "add", `${HOST_IP}/24`, "dev", "br0");
    ip("link", "set", "br0", "mtu", "1450", "up");
    for (const tap of ["tap0", "tap1", "tap2"]) {
      ip("tuntap", "add", "dev", tap, "mode", "tap");
      ip("link", "set", tap, "mtu", "1450", "master", "br0", "up");
    }
    // One lease, for GUEST_MAC only: dnsmasq ignores any other MAC ("static" range).    // TINY_MAC's lease carries an MTU of 68: what a rogue DHCP server (say another guest on the
    // bridge) would send to cut a guest off.
    writeFileSync(join(dir, "hosts.dhcp"), `${GUEST_MAC},${GUEST_IP}\n${TINY_MAC},set:tiny,${TINY_IP}\n`);
    writeFileSync(join(dir, "hosts.dns"), `${GUEST_IP} web.vm.${DOMAIN}\n${HOST_IP} origin.vm.${DOMAIN}\n`);
    start([
      "dnsmasq",
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--bind-interfaces",
      "--interface=br0",
      "--except-interface=lo",
      `--listen-address=${HOST_IP}`,
      "--user=root",
      `--pid-file=${join(dir, "dnsmasq.pid")}`,
      `--dhcp-leasefile=${join(dir, "leases")}`,
      `--dhcp-range=${SUBNET}.0,static,255.255.255.0,1h`,
      `--dhcp-hostsfile=${join(dir, "hosts.dhcp")}`,
      `--addn-hosts=${join(dir, "hosts.dns")}`,
      `--domain=${DOMAIN}`,
      `--dhcp-option=option:router,${HOST_IP}`,
      `--dhcp-option=option:dns-server,${HOST_IP}`,
      "--dhcp-option=tag:!tiny,option:mtu,1450",
      "--dhcp-option=tag:tiny,option:mtu,68",
      `--log-facility=${join(dir, "dnsmasq.log")}`,
      "--log-dhcp",
    ]);
    // A plain origin server in the namespace for the guest to fetch from.
    writeFileSync(join(dir, "ok"), `${marker}\n`);
    start(["busybox", "httpd", "-f", "-p", `${HOST_IP}:8080`, "-h", dir]);
    guest = bootGuest("dhcp-web", GUEST_MAC, "tap0");
    stranger = bootGuest("no-lease", STRANGER_MAC, "tap1");
    tiny = bootGuest("tiny-mtu", TINY_MAC, "tap2");
  });

  afterAll(() => {
    for (const child of procs) {
      if (child.pid !== undefined && isAlive(child.pid)) child.kill("SIGKILL");
    }
    deleteNetns(ns);
    rmSync(dir, { recursive: true, force: true });
    if (netnsList().includes(ns)) throw new Error(`namespace ${ns} is still there after cleanup`);
  });

  it("takes the leased address and announces it on its READY line", async () => {
    const line = await until(
      "the READY line",
      () =>
        readFileSync(guest.console, "utf8")
          .replaceAll("\r", "")
          .match(/^BLIXARD-READY .*$/m)?.[0],
      180_000,
    );
    expect(line).toBe(`BLIXARD-READY name=dhcp-web address=${GUEST_IP}`);
    const console = readFileSync(guest.console, "utf8");
    expect(console).toMatch(
      new RegExp(
        `blixard-dhcp: bound ${GUEST_IP}/255\\.255\\.255\\.0 router ${HOST_IP} dns ${HOST_IP} mtu 1450`,
      ),
    );
    // Served at the leased address, from the namespace.
    const page = get(`http://${GUEST_IP}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("<h1>dhcp-web</h1>");
  });

  it("resolves a name dnsmasq serves, through the resolver the lease named", () => {
    const res = probe(`resolve?name=origin.vm.${DOMAIN}`);
    expect(res.body).toContain(HOST_IP);
    expect(res.status).toBe(200);
    expect(probe(`resolve?name=web.vm.${DOMAIN}`).body).toContain(GUEST_IP);
    const missing = probe(`resolve?name=nothing.vm.${DOMAIN}`);
    expect(missing.status).toBe(502);
  });

  it("fetches a URL through the probe, by name, and reports a failed fetch", () => {
    const res = probe(`fetch?url=${encodeURIComponent(`http://origin.vm.${DOMAIN}:8080/ok`)}`);
    expect(res).toMatchObject({ status: 200, body: `${marker}\n` });
    const unknown = probe(`fetch?url=${encodeURIComponent(`http://nothing.vm.${DOMAIN}/ok`)}`);
    expect(unknown).toMatchObject({ status: 502, body: expect.stringContaining("cannot resolve") });
    const refused = probe(`fetch?url=${encodeURIComponent(`http://${HOST_IP}:8081/ok`)}`);
    expect(refused.status).toBe(502);
    expect(refused.body).toMatch(/fetch failed: .+/);
  });

  it("pulls N MiB of zeros from a guest's probe and reports the bytes and milliseconds", () => {
    const url = `http://${GUEST_IP}/cgi-bin/zeros?mib=2`;
    const res = probe(`pull?url=${encodeURIComponent(url)}`);
    expect(res.status).toBe(200);
    const [bytes, ms, ...status] = res.body.trim().split(" ");
    // 2 MiB of body plus the answer's headers, and the status line of the zeros probe.
    expect(Number(bytes)).toBeGreaterThan(2 * 2 ** 20);
    expect(Number(bytes)).toBeLessThan(2 * 2 ** 20 + 400);
    expect(Number(ms)).toBeGreaterThanOrEqual(0);
    expect(status.join(" ")).toBe("HTTP/1.0 200 OK");
    const refused = probe(`pull?url=${encodeURIComponent(`http://${HOST_IP}:8081/ok`)}`);
    expect(refused).toMatchObject({ status: 502, body: expect.stringContaining("pull failed") });
  });

  it("refuses query strings that try to inject into the probe's shell or commands", () => {
    const attacks = [
      // Command substitution and separators: would run on the guest if the value were evaluated.
      `fetch?url=${encodeURIComponent("http://origin/$(touch /www/pwned)")}`,
      `fetch?url=${encodeURIComponent("http://origin/`touch /www/pwned`")}`,
      `fetch?url=${encodeURIComponent("http://origin/;touch /www/pwned")}`,
      // A newline that would smuggle a second line past a line-based check.
      `fetch?url=${encodeURIComponent("http://origin/ok\n-O/www/pwned")}`,
      // An option in place of the URL, and other schemes (local files, other protocols).
      `fetch?url=${encodeURIComponent("-O/www/pwned")}`,
      `fetch?url=${encodeURIComponent("file:///etc/passwd")}`,
      `fetch?url=${encodeURIComponent("ftp://origin/x")}`,
      // A second parameter.
      `fetch?url=${encodeURIComponent(`http://${HOST_IP}:8080/ok`)}&url=x`,
      `resolve?name=${encodeURIComponent("-type=any")}`,
      `resolve?name=${encodeURIComponent("a$(touch /www/pwned)")}`,
      `resolve?name=${encodeURIComponent("a\nb")}`,
      "resolve?other=x",
      // The throughput probes (pull, zeros): the same injections, a name where only an IPv4 address
      // is allowed, a size that is not a number or out of bounds.
      `pull?url=${encodeURIComponent("http://origin/$(touch /www/pwned)")}`,
      `pull?url=${encodeURIComponent(`http://${GUEST_IP}/;touch /www/pwned`)}`,
      `pull?url=${encodeURIComponent(`http://${GUEST_IP}/ok\n-O/www/pwned`)}`,
      `pull?url=${encodeURIComponent("-O/www/pwned")}`,
      `pull?url=${encodeURIComponent(`http://origin.vm.${DOMAIN}/`)}`,
      `zeros?mib=${encodeURIComponent("$(touch /www/pwned)")}`,
      `zeros?mib=${encodeURIComponent("1;touch /www/pwned")}`,
      "zeros?mib=0",
      "zeros?mib=257",
      "zeros?mib=-1",
    ];
    for (const attack of attacks) {
      const res = probe(attack);
      expect({ attack, status: res.status }).toEqual({ attack, status: 400 });
    }
    expect(get(`http://${GUEST_IP}/pwned`).status).toBe(404);
  });
  it("does not apply an MTU from the lease that would cut the guest off", async () => {
    const line = await until(
      "the tiny-mtu guest's READY line",
      () =>
        readFileSync(tiny.console, "utf8")
          .replaceAll("\r", "")
          .match(/^BLIXARD-READY .*$/m)?.[0],
      180_000,
    );
    expect(line).toBe(`BLIXARD-READY name=tiny-mtu address=${TINY_IP}`);
    // virtio-net's own 1500 stays; 68 would leave no room for a TCP segment over the overlay.
    expect(readFileSync(tiny.console, "utf8")).toContain(
      `blixard-dhcp: bound ${TINY_IP}/255.255.255.0 router ${HOST_IP} dns ${HOST_IP} mtu 1500`,
    );
    expect(get(`http://${TINY_IP}/`).body).toContain("<h1>tiny-mtu</h1>");
  });

  it("never announces readiness without a lease", async () => {
    await until(
      "the lease-less guest to give up on DHCP",
      () => readFileSync(stranger.console, "utf8").includes("dhcp: no lease on eth0") || undefined,
      180_000,
    );
    // Give a READY line the time it would take to show if it were printed anyway.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(readFileSync(stranger.console, "utf8")).not.toContain("BLIXARD-READY");
  });
});
