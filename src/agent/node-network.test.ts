import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import { nodeRecordCodec } from "../core/store-codecs.js";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import type { DhcpLease, HostName, HostNetwork, OverlayConfig } from "../ports/host-network.js";
import { silentLogger } from "../ports/logger.js";
import { createVmParts } from "../state/vm-transactions.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { placeOn, reportStatus } from "../testing/seed-vms.js";
import { NodeNetwork } from "./node-network.js";

const config: OverlayConfig = {
  bridgeAddress: "10.88.0.10",
  prefixLength: 16,
  vmCidr: "10.88.0.0/16",
  domain: "blixard.internal",
  vtep: "192.0.2.1",
  vni: 4242,
};

/** A host network that records what it was told. */
class RecordingHost implements HostNetwork {
  calls: string[] = [];
  peers: readonly string[] = [];
  leases: readonly DhcpLease[] = [];
  names: readonly HostName[] = [];
  downed: { removeDevices: boolean } | undefined;
  async up() {
    this.calls.push("up");
  }
  async setPeers(peers: readonly string[]) {
    this.calls.push("peers");
    this.peers = peers;
  }
  async setLeases(leases: readonly DhcpLease[]) {
    this.calls.push("leases");
    this.leases = leases;
  }
  async setNames(names: readonly HostName[]) {
    this.calls.push("names");
    this.names = names;
  }
  async down(options: { removeDevices: boolean }) {
    this.downed = options;
  }
}

let clock: ManualClock;
let store: SqliteStore;
let host: RecordingHost;
let network: NodeNetwork;

const nodeRecord = (id: string, vtep?: string): NodeRecord => ({
  id,
  apiUrl: "https://x:7001",
  labels: {},
  capacity: { vcpus: 2, memoryMiB: 2048, drivers: ["qemu"] },
  startedAt: new Date(0).toISOString(),
  ...(vtep ? { overlay: { vtep, bridgeAddress: "10.88.9.9" } } : {}),
});

const putNode = (record: NodeRecord) =>
  store.txn({
    compare: [],
    success: [{ type: "put", key: keys.node(record.id), value: nodeRecordCodec.encode(record) }],
  });

async function createVm(name: string, address: string, group?: string): Promise<void> {
  const record: VmRecord = {
    name,
    spec: parseVmSpec({ name, kernel: "/k", network: "bridge" }),
    desiredState: "running",
    address,
    restartNonce: 0,
    deleting: false,
    createdAt: new Date(0).toISOString(),
    ...(group ? { group } : {}),
  };
  const parts = createVmParts(record, { type: "put", key: `${keys.eventsPrefix}${name}`, value: "{}" });
  await store.txn(parts);
}

/** Lets watches deliver, then the coalescing delay pass. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  clock.advance(50);
  await network.flush();
}

beforeEach(async () => {
  clock = new ManualClock();
  store = await SqliteStore.open({ path: ":memory:", clock });
  host = new RecordingHost();
  network = new NodeNetwork({ store, clock, logger: silentLogger, nodeId: "node-a", host, config });
});
afterEach(async () => {
  await network.stop({ removeDevices: true });
  await store.close();
});

describe("NodeNetwork", () => {
  it("peers with every other node that has an overlay, as nodes come and go", async () => {
    await putNode(nodeRecord("node-a", "192.0.2.1"));
    await putNode(nodeRecord("node-b", "192.0.2.2"));
    await putNode(nodeRecord("node-c")); // no bridge networking: not a peer
    await network.start();
    expect(host.calls[0]).toBe("up");
    expect(host.peers).toEqual(["192.0.2.2"]);
    await putNode(nodeRecord("node-d", "192.0.2.4"));
    await settle();
    expect(host.peers).toEqual(["192.0.2.2", "192.0.2.4"]);
    await store.txn({ compare: [], success: [{ type: "delete", key: keys.node("node-b") }] });
    await settle();
    expect(host.peers).toEqual(["192.0.2.4"]);
  });

  it("leases addresses only to the VMs assigned to this node, with their derived MACs", async () => {
    await network.start();
    await createVm("web", "10.88.1.2");
    await createVm("db", "10.88.1.3");
    await placeOn(store, "web", "node-a");
    await placeOn(store, "db", "node-b");
    await settle();
    expect(host.leases).toEqual([{ mac: "02:b1:0a:58:01:02", address: "10.88.1.2", hostname: "web" }]);
  });

  it("names every VM and replica group of the cluster, and coalesces a burst into one update", async () => {
    await network.start();
    const before = host.calls.filter((c) => c === "names").length;
    await createVm("web-1", "10.88.2.1", "web");
    await createVm("web-2", "10.88.2.2", "web");
    await createVm("db", "10.88.2.3");
    await reportStatus(store, "web-1", "node-a", { phase: "Running", health: "healthy" });
    await reportStatus(store, "web-2", "node-a", { phase: "Running", health: "none" });
    await settle();
    expect(host.names).toEqual([
      { name: "db.vm.blixard.internal", addresses: ["10.88.2.3"] },
      { name: "web-1.vm.blixard.internal", addresses: ["10.88.2.1"] },
      { name: "web-2.vm.blixard.internal", addresses: ["10.88.2.2"] },
      { name: "web.group.blixard.internal", addresses: ["10.88.2.1", "10.88.2.2"] },
    ]);
    expect(host.calls.filter((c) => c === "names").length - before).toBe(1);
  });

  it("drops a group member from the group's name once it is reported unhealthy or stopped", async () => {
    await network.start();
    await createVm("web-1", "10.88.2.1", "web");
    await createVm("web-2", "10.88.2.2", "web");
    await reportStatus(store, "web-1", "node-a", { phase: "Running", health: "healthy" });
    await reportStatus(store, "web-2", "node-a", { phase: "Running", health: "healthy" });
    await settle();
    const group = () => host.names.find((n) => n.name === "web.group.blixard.internal")?.addresses;
    expect(group()).toEqual(["10.88.2.1", "10.88.2.2"]);
    await reportStatus(store, "web-2", "node-a", { phase: "Running", health: "unhealthy" });
    await settle();
    expect(group()).toEqual(["10.88.2.1"]);
    await reportStatus(store, "web-1", "node-a", { phase: "Failed", health: "none" });
    await settle();
    expect(group()).toBeUndefined();
    // The VM's own name stays: it is the VM's address, whether or not it serves.
    expect(host.names.map((n) => n.name)).toContain("web-2.vm.blixard.internal");
  });

  it("brings the devices down only when told no VM runs on", async () => {
    await network.start();
    await network.stop({ removeDevices: false });
    expect(host.downed).toEqual({ removeDevices: false });
  });
});
