import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { Role } from "../core/roles.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import { checkHostFiles } from "../daemon/admission.js";
import { forwardAdmission } from "../daemon/forward-admission.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import type { Store } from "../ports/store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { placeOn } from "../testing/seed-vms.js";
import { withErrorMapping } from "./error-mapping.js";
import { EventLog } from "./event-log.js";
import { authorize, principalKey } from "./principal-context.js";
import { VmRepository } from "./vm-repository.js";
import { vmServiceImpl } from "./vm-service.js";

// UpdateVm through the real service, policy interceptor, repository and SQLite store.
describe("UpdateVm", () => {
  let dir: string;
  let store: SqliteStore;
  let kernel: string;
  let clock: ManualClock;
  /** Runs once before the next transaction: a concurrent writer racing the update. */
  let beforeTxn: (() => Promise<void>) | undefined;
  let holders: Server[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "blixard-update-"));
    mkdirSync(join(dir, "images"));
    kernel = join(dir, "images", "vmlinuz");
    writeFileSync(kernel, "kernel");
    writeFileSync(join(dir, "secret"), "host file");
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    beforeTxn = undefined;
    holders = [];
  });

  afterEach(async () => {
    for (const server of holders) await new Promise((resolve) => server.close(resolve));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function racingStore(): Store {
    return new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "txn") return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<Store["txn"]>) => {
          const race = beforeTxn;
          beforeTxn = undefined;
          await race?.();
          return target.txn(...args);
        };
      },
    });
  }

  function client(role: Role) {
    const impl = vmServiceImpl({
      repo: new VmRepository(racingStore(), clock, "node-a"),
      clock,
      nodeId: "node-a",
      admission: async (spec) => [
        ...(await checkHostFiles(spec)),
        ...(await forwardAdmission(() => [])(spec)),
      ],
      defaultImage: async () => ({ kernel }),
      logs: { stream: () => ({ chunks: (async function* () {})(), offset: () => 0 }), async *follow() {} },
      events: new EventLog(store),
      imageRoot: join(dir, "images"),
    });
    const as: Interceptor = (next) => (req) => {
      req.contextValues.set(principalKey, { name: `${role}-token`, role });
      return next(req);
    };
    return createClient(
      VmService,
      createRouterTransport((router) => router.service(VmService, withErrorMapping(impl)), {
        router: { interceptors: [as, authorize] },
      }),
    );
  }

  async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
    try {
      await promise;
    } catch (err) {
      return ConnectError.from(err);
    }
    throw new Error("expected the request to be rejected");
  }

  async function stored(name: string) {
    const kv = await store.get(keys.vm(name));
    const decoded = decodeVmRecord(name, kv!.value);
    if (!decoded.ok) throw new Error(decoded.problem);
    return decoded.record;
  }

  interface Change {
    memory?: number;
    vcpus?: number;
    kernel?: string;
    disk?: string;
    restartPolicy?: string;
    cmdline?: string;
    forwards?: { host: number; guest: number }[];
  }
  const web = (change: Change = {}) => ({
    name: "web",
    kernel,
    ...change,
  });

  it("replaces the spec, bumps the restart nonce and records who changed which fields", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web(), start: true });
    const res = await operator.updateVm({ spec: web({ memory: 512, vcpus: 2 }) });
    expect(res.changes.map((c) => [c.path, c.oldValue, c.newValue])).toEqual([
      ["vcpus", "1", "2"],
      ["memory", "256", "512"],
    ]);
    expect(res.restart).toBe(true);
    expect(res.vm?.spec).toMatchObject({ memory: 512, vcpus: 2 });
    expect(await stored("web")).toMatchObject({ restartNonce: 1, spec: { memory: 512, vcpus: 2 } });
    const { events } = await operator.listEvents({ vm: "web" });
    expect(events.at(-1)).toMatchObject({
      type: "updated",
      actor: "operator-token",
      reason: "spec changed: vcpus, memory; restarting to apply it",
    });
  });

  it("applies a restart policy change without restarting, and writes nothing for an unchanged spec", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web() });
    const res = await operator.updateVm({ spec: web({ restartPolicy: "never" }) });
    expect(res.restart).toBe(false);
    expect(await stored("web")).toMatchObject({ restartNonce: 0, spec: { restartPolicy: "never" } });
    // The VM is stopped: a change that needs a restart waits for its next start.
    await operator.updateVm({ spec: web({ restartPolicy: "never", cmdline: "quiet" }) });
    expect((await operator.listEvents({ vm: "web" })).events.at(-1)?.reason).toBe(
      "spec changed: cmdline; applied at its next start",
    );
    await operator.updateVm({ spec: web({ restartPolicy: "never" }) });
    const revision = await store.revision();
    // The default kernel and the defaults of unset fields count as what the VM has.
    const same = await operator.updateVm({ spec: { name: "web", restartPolicy: "never" } });
    expect(same.changes).toEqual([]);
    expect(await store.revision()).toBe(revision);
  });

  it("writes nothing on a dry run, yet reports the diff and refuses what the update would refuse", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web() });
    const revision = await store.revision();
    const res = await operator.updateVm({ spec: web({ memory: 1024 }), dryRun: true });
    expect(res).toMatchObject({ dryRun: true, restart: true });
    expect(res.changes.map((c) => c.path)).toEqual(["memory"]);
    expect(res.vm?.spec?.memory).toBe(256);
    expect((await rejection(operator.updateVm({ spec: web({ disk: kernel }), dryRun: true }))).code).toBe(
      Code.InvalidArgument,
    );
    expect(await store.revision()).toBe(revision);
  });

  it("refuses a host path outside the image directory from an operator (it would boot /etc files), allows an admin", async () => {
    await client("operator").createVm({ spec: web() });
    const revision = await store.revision();
    // The attack: an operator swaps the kernel for any host file the node can read.
    const attack = web({ kernel: join(dir, "secret") });
    const err = await rejection(client("operator").updateVm({ spec: attack }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain("spec.kernel");
    expect((await rejection(client("viewer").updateVm({ spec: web({ memory: 512 }) }))).code).toBe(
      Code.PermissionDenied,
    );
    expect(await store.revision()).toBe(revision);
    expect((await client("admin").updateVm({ spec: attack })).changes.map((c) => c.path)).toEqual(["kernel"]);
  });

  it("refuses a host port another VM forwards, naming that VM, and changes nothing", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: { name: "other", kernel, forwards: [{ host: 18081, guest: 80 }] } });
    await operator.createVm({ spec: web() });
    const revision = await store.revision();
    const err = await rejection(operator.updateVm({ spec: web({ forwards: [{ host: 18081, guest: 80 }] }) }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain(
      'spec.forwards.0.host: host port 18081/tcp is already forwarded by VM "other"',
    );
    expect(await store.revision()).toBe(revision);
  });

  it("keeps the ports the VM forwards (held by its own process), claims new ones and releases dropped ones", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web({ forwards: [{ host: 18082, guest: 80 }] }) });
    // The VM's own qemu holds its forwarded port: the update must not refuse it as in use.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(18082, "127.0.0.1", resolve));
    holders.push(holder);
    await operator.updateVm({ spec: web({ memory: 300, forwards: [{ host: 18082, guest: 80 }] }) });
    await operator.updateVm({ spec: web({ forwards: [{ host: 18083, guest: 80 }] }) });
    expect((await store.get(keys.portClaim("tcp", 18083)))?.value).toBe("web");
    expect(await store.get(keys.portClaim("tcp", 18082))).toBeUndefined();
    // The released port is free for another VM again.
    holders.pop();
    await new Promise((resolve) => holder.close(resolve));
    await operator.createVm({ spec: { name: "next", kernel, forwards: [{ host: 18082, guest: 80 }] } });
  });

  it("answers CONFLICT when the VM changes between the read and the write, and loses neither change", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web() });
    beforeTxn = async () => {
      await operator.stopVm({ name: "web" });
    };
    const err = await rejection(operator.updateVm({ spec: web({ memory: 512 }) }));
    expect(err.code).toBe(Code.Aborted);
    expect(err.rawMessage).toContain("retry the update");
    expect(await stored("web")).toMatchObject({ desiredState: "stopped", spec: { memory: 256 } });
  });

  it("names the VM that claimed a newly forwarded port between the checks and the write", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web() });
    beforeTxn = async () => {
      await operator.createVm({ spec: { name: "sneaky", kernel, forwards: [{ host: 18085, guest: 22 }] } });
    };
    const err = await rejection(operator.updateVm({ spec: web({ forwards: [{ host: 18085, guest: 80 }] }) }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain('already forwarded by VM "sneaky"');
    expect((await stored("web")).spec.forwards).toEqual([]);
    expect((await store.get(keys.portClaim("tcp", 18085)))?.value).toBe("sneaky");
  });

  it("refuses a read-modify-write whose read is stale, so it cannot undo a change made in between", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web() });
    const { vm: read } = await operator.getVm({ name: "web" });
    // Someone else changes the cmdline after our read; our memory change carries the old cmdline.
    await operator.updateVm({ spec: web({ cmdline: "quiet" }) });
    const revision = await store.revision();
    const stale = { ...read!.spec!, memory: 512 };
    const err = await rejection(operator.updateVm({ spec: stale, expectedSpec: read!.spec! }));
    expect(err.code).toBe(Code.Aborted);
    expect(err.rawMessage).toContain("spec changed since it was read");
    expect(await store.revision()).toBe(revision);
    const { vm: fresh } = await operator.getVm({ name: "web" });
    const res = await operator.updateVm({
      spec: { ...fresh!.spec!, memory: 512 },
      expectedSpec: fresh!.spec!,
    });
    expect(res.changes.map((c) => c.path)).toEqual(["memory"]);
  });

  it("refuses to grow a VM past what its node has free, saying how much it has", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web({ memory: 512 }) });
    await operator.createVm({ spec: { name: "neighbour", kernel, memory: 1024 } });
    await store.put(
      keys.node("node-b"),
      JSON.stringify({
        id: "node-b",
        apiUrl: "http://127.0.0.1:1",
        labels: {},
        capacity: { vcpus: 4, memoryMiB: 2560, drivers: ["qemu"] },
        allowance: { reserved: { vcpus: 0, memoryMiB: 512 }, overcommit: { cpu: 1, memory: 1 } },
        startedAt: "2026-12-03T10:00:00.000Z",
      }),
    );
    // Both placed on node-b, as the leader's scheduler places them.
    for (const name of ["web", "neighbour"]) await placeOn(store, name, "node-b");
    const revision = await store.revision();
    // 2048 allocatable less the neighbour's 1024 leaves 1024 for web.
    const err = await rejection(operator.updateVm({ spec: web({ memory: 1536 }) }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain("spec.memory: 1536 MiB does not fit node node-b, which has 1024 MiB");
    expect(await store.revision()).toBe(revision);
    expect((await operator.updateVm({ spec: web({ memory: 1024 }) })).restart).toBe(true);

    // A VM placed on the node whose agent has not started it yet holds its share too (found by the
    // simulator: a grow was admitted next to a VM placed a moment before).
    await operator.createVm({ spec: { name: "placed", kernel, memory: 512 } });
    await placeOn(store, "placed", "node-b");
    await operator.updateVm({ spec: web({ memory: 512 }) });
    const placed = await rejection(operator.updateVm({ spec: web({ memory: 1024 }) }));
    expect(placed.rawMessage).toContain("which has 512 MiB");
  });

  it("refuses a forward on a replica group member, which scaling would copy onto every new member", async () => {
    const operator = client("operator");
    await operator.createVm({ spec: web(), replicas: 2 });
    const err = await rejection(
      operator.updateVm({ spec: { name: "web-1", kernel, forwards: [{ host: 18084, guest: 80 }] } }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("replica group web");
    expect((await operator.updateVm({ spec: { name: "web-2", kernel, memory: 300 } })).restart).toBe(true);
  });

  it("answers NOT_FOUND for a VM that does not exist (apply then creates it)", async () => {
    expect((await rejection(client("operator").updateVm({ spec: web() }))).code).toBe(Code.NotFound);
  });
});
