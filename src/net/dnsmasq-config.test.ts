import { describe, expect, it } from "vitest";
import { isBlixardError } from "../core/errors.js";
import { type DnsmasqSettings, dhcpHostsFile, dnsmasqConfig, hostsFile } from "./dnsmasq-config.js";

const base: DnsmasqSettings = {
  dir: "/var/lib/blixard/net/dnsmasq",
  bridge: "blxbr0",
  bridgeAddress: "10.88.0.1",
  vmCidr: "10.88.0.0/16",
  mtu: 1450,
  domain: "blixard.internal",
};

function refused(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return isBlixardError(err, "INVALID_ARGUMENT");
  }
}

describe("dnsmasqConfig", () => {
  it("serves the bridge only, static leases for known MACs only, gateway and DNS on the bridge address", () => {
    expect(dnsmasqConfig(base).split("\n")).toEqual([
      "interface=blxbr0",
      "bind-interfaces",
      "except-interface=lo",
      "port=53",
      "user=nobody",
      "group=nogroup",
      "dhcp-range=10.88.0.0,static,255.255.0.0,12h",
      "dhcp-hostsfile=/var/lib/blixard/net/dnsmasq/dhcp-hosts",
      "dhcp-ignore=tag:!known",
      "dhcp-authoritative",
      "dhcp-leasefile=/var/lib/blixard/net/dnsmasq/leases",
      "dhcp-option=option:router,10.88.0.1",
      "dhcp-option=option:dns-server,10.88.0.1",
      "dhcp-option=26,1450",
      "domain=blixard.internal",
      "local=/blixard.internal/",
      "addn-hosts=/var/lib/blixard/net/dnsmasq/hosts",
      "no-resolv",
      "no-hosts",
      "pid-file=/var/lib/blixard/net/dnsmasq/dnsmasq.pid",
      "log-facility=/var/lib/blixard/net/dnsmasq/dnsmasq.log",
      "log-dhcp",
      "",
    ]);
  });

  it("reads the data files from their own directory when given one", () => {
    const lines = dnsmasqConfig({ ...base, hostsDir: "/run/blixard-dnsmasq/0123" }).split("\n");
    expect(lines).toContain("dhcp-hostsfile=/run/blixard-dnsmasq/0123/dhcp-hosts");
    expect(lines).toContain("addn-hosts=/run/blixard-dnsmasq/0123/hosts");
    expect(lines).toContain("pid-file=/var/lib/blixard/net/dnsmasq/dnsmasq.pid");
    expect(refused(() => dnsmasqConfig({ ...base, hostsDir: "/run/x\naddn-hosts=/etc/shadow" }))).toBe(true);
  });

  it("refuses values that would add a config line (for example a second interface or a script)", () => {
    expect(refused(() => dnsmasqConfig({ ...base, bridge: "blxbr0\ninterface=eth0" }))).toBe(true);
    expect(refused(() => dnsmasqConfig({ ...base, domain: "x.internal/\ndhcp-script=/tmp/evil" }))).toBe(
      true,
    );
    expect(refused(() => dnsmasqConfig({ ...base, dir: "/var/lib/x\nconf-dir=/tmp" }))).toBe(true);
    expect(refused(() => dnsmasqConfig({ ...base, dir: "/var/lib/../../tmp" }))).toBe(true);
    expect(refused(() => dnsmasqConfig({ ...base, bridgeAddress: "10.88.0.1,8.8.8.8" }))).toBe(true);
    expect(refused(() => dnsmasqConfig({ ...base, user: "root\nuser=root" }))).toBe(true);
  });

  it("refuses a bridge address outside the VM subnet", () => {
    expect(refused(() => dnsmasqConfig({ ...base, bridgeAddress: "10.99.0.1" }))).toBe(true);
  });
});

describe("dhcpHostsFile and hostsFile", () => {
  it("writes one MAC,address lease per VM and one line of names per address", () => {
    expect(
      dhcpHostsFile([
        { mac: "02:b1:0a:58:00:05", address: "10.88.0.5" },
        { mac: "02:b1:0a:58:00:06", address: "10.88.0.6" },
      ]),
    ).toBe("02:b1:0a:58:00:05,10.88.0.5\n02:b1:0a:58:00:06,10.88.0.6\n");
    expect(
      hostsFile([
        { address: "10.88.0.5", names: ["web-1.vm.blixard.internal", "web.group.blixard.internal"] },
        { address: "10.88.0.6", names: [] },
      ]),
    ).toBe("10.88.0.5 web-1.vm.blixard.internal web.group.blixard.internal\n");
    expect(dhcpHostsFile([])).toBe("");
  });

  it("refuses a lease or a name that would add a line (the attack: a VM claiming another's address)", () => {
    expect(
      refused(() => dhcpHostsFile([{ mac: "02:b1:0a:58:00:05\n02:b1:0a:58:00:07", address: "10.88.0.5" }])),
    ).toBe(true);
    expect(refused(() => dhcpHostsFile([{ mac: "02:b1:0a:58:00:05", address: "10.88.0.5,set:known" }]))).toBe(
      true,
    );
    expect(
      refused(() => hostsFile([{ address: "10.88.0.5", names: ["web\n10.88.0.9 api.vm.blixard.internal"] }])),
    ).toBe(true);
    expect(
      refused(() => hostsFile([{ address: "10.88.0.5 evil", names: ["web.vm.blixard.internal"] }])),
    ).toBe(true);
  });

  it("refuses two leases for one MAC or one address", () => {
    expect(
      refused(() =>
        dhcpHostsFile([
          { mac: "02:b1:0a:58:00:05", address: "10.88.0.5" },
          { mac: "02:b1:0a:58:00:06", address: "10.88.0.5" },
        ]),
      ),
    ).toBe(true);
  });
});
