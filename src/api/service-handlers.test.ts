import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_CLUSTER_NETWORK } from "../core/cluster-network.js";
import type { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import { decide } from "../core/policy.js";
import { initialStatus } from "../core/vm-record.js";
import { encodeVmRecord } from "../core/vm-record-codec.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { ServiceService } from "../gen/blixard/v1/service_pb.js";
import type { Random } from "../ports/random.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { withErrorMapping } from "./error-mapping.js";
import { serviceHandlers } from "./service-handlers.js";
import { ServiceRepository } from "./service-repository.js";
import { VmRepository } from "./vm-repository.js";

/** Draws the given numbers in turn, then 0: a test decides which addresses the random draws hit. */
class ScriptedRandom implements Random {
  private draws: number[] = [];
  script(draws: number[]): void {
    this.draws = [...draws];
  }
  next(): number {
    return this.draws.shift() ?? 0;
  }
  hex(bytes: number): string {
    return "0".repeat(bytes * 2);
  }
}

const web = { name: "web", port: 80, targetPort: 8080, group: "web" };
/** The fraction that draws host index i of a /16 (65534 hosts). */
const draw = (i: number) => (i + 0.5) / 65534;

describe("ServiceService", () => {
  let store: SqliteStore;
  let random: ScriptedRandom;
  let client: ReturnType<typeof createClient<typeof ServiceService>>;

  beforeEach(async () => {
    const clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    random = new ScriptedRandom();
    const impl = serviceHandlers({ repo: new ServiceRepository(store, clock, random), store });
    client = createClient(
      ServiceService,
      createRouterTransport((router) => router.service(ServiceService, withErrorMapping(impl))),
    );
  });

  afterEach(async () => {
    await store.close();
  });

  async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
    try {
      await promise;
    } catch (err) {
      expect(err).toBeInstanceOf(ConnectError);
      return err as ConnectError;
    }
    throw new Error("expected the request to be rejected");
  }

  it("creates a service with an address from the default subnet, claimed in the same transaction", async () => {
    random.script([draw(41)]);
    const { service } = await client.createService({ spec: web });
    expect(service?.address).toBe("10.89.0.42");
    expect(service?.spec).toMatchObject({ ...web, protocol: "tcp" });
    expect((await store.get(keys.addressClaim("10.89.0.42")))?.value).toBe('{"service":"web"}');
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value));
    expect(events).toMatchObject([{ type: "service-created", vm: "web" }]);
    expect((await client.listServices({})).services.map((s) => s.address)).toEqual(["10.89.0.42"]);
  });

  it("takes the service subnet from the cluster network settings", async () => {
    const settings = { ...DEFAULT_CLUSTER_NETWORK, vmCidr: "10.50.0.0/16", serviceCidr: "10.60.0.0/24" };
    await store.put(keys.network, JSON.stringify(settings));
    const { service } = await client.createService({ spec: web });
    expect(service?.address).toBe("10.60.0.1");
  });

  it("refuses a service when every address of the service range is held, naming the range", async () => {
    const settings = { ...DEFAULT_CLUSTER_NETWORK, serviceCidr: "10.89.0.0/28" };
    await store.put(keys.network, JSON.stringify(settings));
    // The 14 host addresses: held by VMs, a node's bridge and other services alike.
    for (let host = 1; host <= 14; host++) {
      const holder = host === 1 ? { node: "n1" } : host < 8 ? { vm: `vm-${host}` } : { service: `s-${host}` };
      await store.put(keys.addressClaim(`10.89.0.${host}`), JSON.stringify(holder));
    }
    const before = await store.revision();
    const err = await rejection(client.createService({ spec: web }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe(
      "the service range 10.89.0.0/28 has no free address left; delete services you no longer need",
    );
    expect(await store.revision()).toBe(before);
  });

  it("refuses to draw from settings it cannot read, and writes nothing", async () => {
    await store.put(keys.network, JSON.stringify({ vmCidr: "10.50.0.0/16", serviceCidr: "10.60.0.0/24" }));
    const before = await store.revision();
    const err = await rejection(client.createService({ spec: web }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(/cluster network settings cannot be read \(domain: /);
    expect(await store.revision()).toBe(before);
  });

  it("draws again when the address is held by a VM, and scans once the draws keep colliding", async () => {
    for (const ip of ["10.89.0.1", "10.89.0.2"]) await store.put(keys.addressClaim(ip), '{"vm":"x"}');
    // Every random draw hits 10.89.0.1; the scan, from where the next draw points (10.89.0.1), finds 10.89.0.3.
    random.script([draw(0), draw(0), draw(0), draw(0)]);
    const { service } = await client.createService({ spec: web });
    expect(service?.address).toBe("10.89.0.3");
  });

  it("refuses a host port another VM forwards, naming the field, and writes nothing", async () => {
    await store.put(keys.portClaim("tcp", 8080), "vm-a");
    const before = await store.revision();
    const err = await rejection(client.createService({ spec: { ...web, hostPort: 8080 } }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).toMatch(/spec.hostPort: host port 8080\/tcp is already forwarded by VM "vm-a"/);
    expect(await store.revision()).toBe(before);
  });

  it("keeps a VM from forwarding a service's host port, and says which service holds it", async () => {
    await client.createService({ spec: { ...web, hostPort: 30080 } });
    const spec = parseVmSpec({
      name: "vm-b",
      kernel: "/images/vmlinuz",
      forwards: [{ host: 30080, guest: 80 }],
    });
    const record = { name: "vm-b", spec, desiredState: "stopped" as const, restartNonce: 0, deleting: false };
    const vms = new VmRepository(store, new ManualClock());
    const err = await vms.create({ ...record, createdAt: "2026-12-03T00:00:00Z" }).then(
      () => undefined,
      (e: unknown) => e as BlixardError,
    );
    expect(err?.code).toBe("FAILED_PRECONDITION");
    expect(err?.message).toContain('host port 30080/tcp is already the host port of service "web"');
  });

  it("refuses a second service of the same name, and a host port below 1024 (shadowing sshd)", async () => {
    await client.createService({ spec: web });
    expect((await rejection(client.createService({ spec: web }))).code).toBe(Code.AlreadyExists);
    const before = await store.revision();
    const err = await rejection(client.createService({ spec: { ...web, name: "ssh", hostPort: 22 } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toMatch(/spec.hostPort: must be at least 1024/);
    expect(await store.revision()).toBe(before);
  });

  it("refuses a host port that is a node's API or etcd port (hijacking the cluster's control traffic)", async () => {
    const capacity = { vcpus: 2, memoryMiB: 2048, drivers: ["qemu"] };
    const node = {
      id: "n2",
      apiUrl: "https://10.0.0.2:7001",
      labels: {},
      capacity,
      startedAt: "2026-12-03T00:00:00Z",
    };
    await store.put(keys.node("n2"), JSON.stringify(node));
    const before = await store.revision();
    for (const [port, what] of [
      [7001, "node n2's API port"],
      [7002, "node n2's etcd client port"],
      [7003, "node n2's etcd peer port"],
    ] as const) {
      const err = await rejection(client.createService({ spec: { ...web, hostPort: port } }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toContain(`spec.hostPort: port ${port} is ${what}`);
    }
    // This node's own ports, which another node's record does not say (a --etcd-client-port).
    const local = serviceHandlers({
      repo: new ServiceRepository(store, new ManualClock(), random),
      store,
      reservedPorts: () => [{ port: 12379, what: "this node's etcd client port" }],
    });
    const localClient = createClient(
      ServiceService,
      createRouterTransport((router) => router.service(ServiceService, withErrorMapping(local))),
    );
    const err = await rejection(localClient.createService({ spec: { ...web, hostPort: 12379 } }));
    expect(err.rawMessage).toContain("port 12379 is this node's etcd client port");
    expect(await store.revision()).toBe(before);
  });

  it("deletes a service with its address and host port claims", async () => {
    const { service } = await client.createService({ spec: { ...web, hostPort: 30080 } });
    await client.deleteService({ name: "web" });
    expect(await store.get(keys.service("web"))).toBeUndefined();
    expect(await store.get(keys.addressClaim(service!.address))).toBeUndefined();
    expect(await store.get(keys.portClaim("tcp", 30080))).toBeUndefined();
    expect((await rejection(client.getService({ name: "web" }))).code).toBe(Code.NotFound);
  });

  it("shows as members the group's running bridge-mode VMs", async () => {
    await client.createService({ spec: web });
    for (const [name, address, phase] of [
      ["web-1", "10.88.0.5", "Running"],
      ["web-2", "10.88.0.6", "Starting"],
    ] as const) {
      const spec = parseVmSpec({ name, network: "bridge", kernel: "/images/vmlinuz" });
      const record = { name, spec, desiredState: "running" as const, restartNonce: 0, deleting: false };
      await store.put(
        keys.vm(name),
        encodeVmRecord({ ...record, createdAt: "2026-12-03T00:00:00Z", group: "web", address }),
      );
      await store.put(keys.placement(name), JSON.stringify({ node: "n1", epoch: 1, recordRevision: 1 }));
      const status = { ...initialStatus("n1", "2026-12-03T00:00:00Z", 0), phase };
      await store.put(keys.status(name), JSON.stringify(status));
    }
    const { service } = await client.getService({ name: "web" });
    expect(service?.members.map((m) => [m.vm, m.address, m.port])).toEqual([["web-1", "10.88.0.5", 8080]]);
  });

  it("lets viewers read services but only operators create or delete them", () => {
    const path = (m: string) => `/blixard.v1.ServiceService/${m}`;
    const viewer = { name: "ci-read", role: "viewer" as const };
    // The attack: a read-only token publishing a host port on every node.
    expect(decide(path("CreateService"), viewer).allow).toBe(false);
    expect(decide(path("DeleteService"), viewer).allow).toBe(false);
    expect(decide(path("ListServices"), viewer).allow).toBe(true);
    expect(decide(path("CreateService"), { name: "ops", role: "operator" }).allow).toBe(true);
  });
});
