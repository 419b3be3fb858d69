import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
import { decodeFunctionRecord } from "../core/function-record.js";
import { keys } from "../core/keys.js";
import type { Role } from "../core/roles.js";
import { checkHostFiles } from "../daemon/admission.js";
import { FunctionService } from "../gen/blixard/v1/function_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { withErrorMapping } from "./error-mapping.js";
import { EventLog } from "./event-log.js";
import { functionHandlers } from "./function-handlers.js";
import { FunctionRepository } from "./function-repository.js";
import { authorize, principalKey } from "./principal-context.js";
import { VmRepository } from "./vm-repository.js";
import { vmServiceImpl } from "./vm-service.js";

describe("FunctionService", () => {
  let dir: string;
  let store: SqliteStore;
  let kernel: string;
  let repo: FunctionRepository;
  const clock = new ManualClock();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "blixard-fn-"));
    mkdirSync(join(dir, "images"));
    kernel = join(dir, "images", "vmlinux");
    writeFileSync(kernel, "kernel");
    store = await SqliteStore.open({ path: ":memory:", clock });
    // One repository per node, as in production: its event keys are unique per writer.
    repo = new FunctionRepository(store, clock, "node-a");
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function transport(role: Role) {
    const as: Interceptor = (next) => (req) => {
      req.contextValues.set(principalKey, { name: `${role}-token`, role });
      return next(req);
    };
    const fns = functionHandlers({
      repo,
      store,
      imageRoot: join(dir, "images"),
      defaultImage: async () => ({ kernel }),
      hostFiles: checkHostFiles,
    });
    const vms = vmServiceImpl({
      repo: new VmRepository(store, clock, "node-a"),
      clock,
      nodeId: "node-a",
      admission: checkHostFiles,
      defaultImage: async () => ({ kernel }),
      logs: { stream: () => ({ chunks: (async function* () {})(), offset: () => 0 }), async *follow() {} },
      events: new EventLog(store),
      imageRoot: join(dir, "images"),
    });
    return createRouterTransport(
      (router) => {
        router.service(FunctionService, withErrorMapping(fns));
        router.service(VmService, withErrorMapping(vms));
      },
      { router: { interceptors: [as, authorize] } },
    );
  }
  const fnClient = (role: Role = "operator") => createClient(FunctionService, transport(role));
  const vmClient = (role: Role = "admin") => createClient(VmService, transport(role));

  async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
    try {
      await promise;
    } catch (err) {
      expect(err).toBeInstanceOf(ConnectError);
      return err as ConnectError;
    }
    throw new Error("expected the request to be rejected");
  }

  it("deploys version 1 with the node's default image, then version 2, keeping the history", async () => {
    const first = await fnClient().deployFunction({
      spec: { name: "hello", concurrency: 2, env: { GREETING: "hi" } },
    });
    expect(first.function).toMatchObject({
      version: 1,
      spec: { kernel, concurrency: 2, minInstances: 0, port: 80 },
    });
    const second = await fnClient().deployFunction({ spec: { name: "hello", minInstances: 1 } });
    expect(second.function?.version).toBe(2);
    expect(second.function?.versions.map((v) => [v.version, v.actor])).toEqual([
      [1, "operator-token"],
      [2, "operator-token"],
    ]);
    const stored = await store.get(keys.function("hello"));
    expect(decodeFunctionRecord("hello", stored!.value)).toMatchObject({ ok: true, value: { version: 2 } });
    const { functions } = await fnClient("viewer").listFunctions({});
    expect(functions.map((f) => f.spec?.name)).toEqual(["hello"]);
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value).type);
    expect(events).toEqual(["function-deployed", "function-deployed"]);
  });

  it("rejects an invalid spec naming the field, and writes nothing", async () => {
    const before = await store.revision();
    const err = await rejection(
      fnClient().deployFunction({ spec: { name: "hello", minInstances: 5, maxInstances: 2 } }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("spec.maxInstances: must be at least minInstances (5)");
    const env = await rejection(
      fnClient().deployFunction({ spec: { name: "hello", env: { A: "1 init=/bin/sh" } } }),
    );
    expect(env.rawMessage).toContain("spec.env.A");
    expect(await store.revision()).toBe(before);
  });

  it("refuses an operator's instance disk outside the image directory (a function booting /etc/shadow)", async () => {
    const err = await rejection(
      fnClient("operator").deployFunction({ spec: { name: "steal", disk: "/etc/shadow" } }),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain("spec.disk");
    expect(await store.get(keys.function("steal"))).toBeUndefined();
    const viewer = await rejection(fnClient("viewer").deployFunction({ spec: { name: "hello" } }));
    expect(viewer.code).toBe(Code.PermissionDenied);
  });

  it("refuses user writes to instance VMs, which the pool controller owns (a user stopping or faking an instance)", async () => {
    const create = await rejection(vmClient().createVm({ spec: { name: "fn-hello-1-0", kernel } }));
    expect(create.code).toBe(Code.FailedPrecondition);
    expect(create.rawMessage).toContain('instance of function "hello"');
    for (const call of [
      () => vmClient().deleteVm({ name: "fn-hello-1-0" }),
      () => vmClient().stopVm({ name: "fn-hello-1-0" }),
      () => vmClient().startVm({ name: "fn-hello-1-0" }),
      () => vmClient().restartVm({ name: "fn-hello-1-0" }),
      () => vmClient().scaleVmGroup({ group: "fn-hello-1", replicas: 3 }),
      () => vmClient().createVm({ spec: { name: "fn-x", kernel }, replicas: 2 }),
    ]) {
      expect((await rejection(call())).code).toBe(Code.FailedPrecondition);
    }
  });

  it("deletes a function with an event, and says how to list them when it is unknown", async () => {
    await fnClient().deployFunction({ spec: { name: "hello" } });
    await fnClient().deleteFunction({ name: "hello" });
    expect(await store.get(keys.function("hello"))).toBeUndefined();
    const err = await rejection(fnClient().getFunction({ name: "hello" }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain("blixard fn list");
  });
});
