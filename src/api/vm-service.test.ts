import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import { checkHostFiles } from "../daemon/admission.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { withErrorMapping } from "./error-mapping.js";
import { EventLog } from "./event-log.js";
import { VmRepository } from "./vm-repository.js";
import { type DefaultImage, vmServiceImpl } from "./vm-service.js";

describe("VmService", () => {
  let dir: string;
  let store: SqliteStore;
  let kernel: string;
  let defaultImage: DefaultImage | undefined;
  let initialRevision: number;
  let client: ReturnType<typeof createClient<typeof VmService>>;
  let logChunks: string[];
  let pulled: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "blixard-api-"));
    kernel = join(dir, "vmlinuz");
    writeFileSync(kernel, "kernel");
    defaultImage = undefined;
    logChunks = ["hel", "lo\n"];
    pulled = 0;
    const clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    initialRevision = await store.revision();
    const impl = vmServiceImpl({
      repo: new VmRepository(store, clock),
      clock,
      nodeId: "node-a",
      admission: checkHostFiles,
      defaultImage: async () => defaultImage,
      logs: {
        stream: () => {
          async function* each() {
            for (const chunk of logChunks) {
              pulled++;
              yield chunk;
            }
          }
          return { chunks: each(), offset: () => 6 };
        },
        async *follow(_name, offset) {
          yield `new output after byte ${offset}\n`;
        },
      },
      events: new EventLog(store),
      // The tests boot files from a temp dir; the operator-role checks are in vm-service-roles.test.ts.
      imageRoot: dirname(dir),
    });
    client = createClient(
      VmService,
      createRouterTransport((router) => router.service(VmService, withErrorMapping(impl))),
    );
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
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

  async function expectNothingCreated(): Promise<void> {
    expect((await client.listVms({})).vms).toEqual([]);
    expect(await store.revision()).toBe(initialRevision);
  }

  it("streams the log chunk by chunk and ends for `vm logs`; follows from where it ended with -f", async () => {
    await client.createVm({ spec: { name: "web", kernel } });
    const texts = async (stopAtEnd: boolean) => {
      const out: string[] = [];
      for await (const res of client.followVmLogs({ name: "web", tail: 0, stopAtEnd })) out.push(res.text);
      return out;
    };
    expect(await texts(true)).toEqual(["hel", "lo\n"]);
    expect(await texts(false)).toEqual(["hel", "lo\n", "new output after byte 6\n"]);
  });

  it("creates a VM with defaults and returns it Pending, for the scheduler to place", async () => {
    const { vm } = await client.createVm({ spec: { name: "web", kernel } });
    expect(vm?.spec).toMatchObject({ vcpus: 1, memory: 256, restartPolicy: "always" });
    expect(vm?.status).toMatchObject({
      phase: "Pending",
      node: "",
      restarts: 0,
      message: "waiting for the scheduler to place it",
    });
    expect(vm?.desiredState).toBe("stopped");
    expect((await client.getVm({ name: "web" })).vm?.name).toBe("web");
  });

  it("round-trips every optional spec field through the wire format", async () => {
    const spec = {
      name: "full",
      kernel,
      initrd: kernel,
      vcpus: 2,
      memory: 512,
      cmdline: "quiet",
      forwards: [{ host: 18080, guest: 80, protocol: "tcp" }],
      healthCheck: { type: "http", port: 80, path: "/ready", intervalSeconds: 0.5, failureThreshold: 5 },
      restartPolicy: "on-failure",
      restartBackoff: { initialSeconds: 2, maxSeconds: 8 },
    };
    const { vm } = await client.createVm({ spec });
    expect(vm?.spec).toMatchObject({
      ...spec,
      healthCheck: { ...spec.healthCheck, timeoutSeconds: 1, startPeriodSeconds: 120 },
    });
  });

  it("rejects an invalid name, naming the field, and creates nothing", async () => {
    const err = await rejection(client.createVm({ spec: { name: "../../etc", kernel } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("spec.name");
    await expectNothingCreated();
  });

  it("rejects a kernel path that does not exist", async () => {
    const err = await rejection(client.createVm({ spec: { name: "web", kernel: join(dir, "nope") } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/spec\.kernel: .*does not exist/);
    await expectNothingCreated();
  });

  it("rejects a directory given as the kernel", async () => {
    const err = await rejection(client.createVm({ spec: { name: "web", kernel: dir } }));
    expect(err.rawMessage).toContain("is not a regular file");
    await expectNothingCreated();
  });

  it("uses the node's default image when no kernel is given, and says how to get one when absent", async () => {
    const err = await rejection(client.createVm({ spec: { name: "web" } }));
    expect(err.rawMessage).toContain("scripts/guest-image/build.sh");
    defaultImage = { kernel };
    const { vm } = await client.createVm({ spec: { name: "web" } });
    expect(vm?.spec?.kernel).toBe(kernel);
  });

  it("refuses a second VM of the same name", async () => {
    await client.createVm({ spec: { name: "web", kernel } });
    const err = await rejection(client.createVm({ spec: { name: "web", kernel, vcpus: 2 } }));
    expect(err.code).toBe(Code.AlreadyExists);
    expect((await client.getVm({ name: "web" })).vm?.spec?.vcpus).toBe(1);
  });

  it("refuses a host port already forwarded by another VM", async () => {
    await client.createVm({ spec: { name: "a", kernel, forwards: [{ host: 8080, guest: 80 }] } });
    const err = await rejection(
      client.createVm({ spec: { name: "b", kernel, forwards: [{ host: 8080, guest: 80 }] } }),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain(
      'spec.forwards.0.host: host port 8080/tcp is already forwarded by VM "a"',
    );
    expect((await client.listVms({})).vms.map((v) => v.name)).toEqual(["a"]);
    // The same port over another protocol is a different port.
    await client.createVm({
      spec: { name: "c", kernel, forwards: [{ host: 8080, guest: 80, protocol: "udp" }] },
    });
  });

  it("records start, stop and restart as desired state", async () => {
    await client.createVm({ spec: { name: "web", kernel } });
    expect((await client.startVm({ name: "web" })).vm?.desiredState).toBe("running");
    expect((await client.stopVm({ name: "web" })).vm?.desiredState).toBe("stopped");
    expect((await client.restartVm({ name: "web" })).vm?.desiredState).toBe("running");
  });

  it("marks a deleted VM as deleting and refuses to start it", async () => {
    await client.createVm({ spec: { name: "web", kernel } });
    expect((await client.deleteVm({ name: "web" })).vm?.deleting).toBe(true);
    const err = await rejection(client.startVm({ name: "web" }));
    expect(err.code).toBe(Code.FailedPrecondition);
  });

  it("answers NOT_FOUND with a hint for an unknown VM", async () => {
    const err = await rejection(client.getVm({ name: "ghost" }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain("blixard vm list");
  });

  it("validates the name of every by-name request", async () => {
    const err = await rejection(client.stopVm({ name: "Bad Name" }));
    expect(err.code).toBe(Code.InvalidArgument);
  });

  it("serves logs of an existing VM", async () => {
    await client.createVm({ spec: { name: "web", kernel } });
    expect((await client.getVmLogs({ name: "web", tail: 10 })).text).toBe("hello\n");
  });

  it("refuses a GetVmLogs reply over 1 MiB, reading no further (a caller cannot make the node hold a whole log)", async () => {
    await client.createVm({ spec: { name: "web", kernel } });
    logChunks = Array.from({ length: 320 }, () => "x".repeat(64 * 1024)); // 20 MiB: a full log and its copy
    const err = await rejection(client.getVmLogs({ name: "web", tail: 0 }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(/over 1048576 characters: ask for fewer lines, or stream them/);
    expect(pulled).toBe(17);
  });

  it("answers a delete that the agent completes at once with the VM, not NOT_FOUND", async () => {
    await client.createVm({ spec: { name: "quick", kernel } });
    // The owning agent removes a stopped VM within milliseconds of it being marked for deletion.
    const txn = store.txn.bind(store);
    store.txn = async (request) => {
      const result = await txn(request);
      const marksDeleting = request.success.some(
        (op) => op.type === "put" && op.value.includes('"deleting":true'),
      );
      if (result.succeeded && marksDeleting) {
        await store.delete(keys.vm("quick"));
        await store.delete(keys.status("quick"));
      }
      return result;
    };
    const { vm } = await client.deleteVm({ name: "quick" });
    expect(vm).toMatchObject({ name: "quick", deleting: true });
  });

  it("logs a VM's creation in the event log, filtered by VM", async () => {
    await client.createVm({ spec: { name: "one", kernel } });
    await client.createVm({ spec: { name: "two", kernel }, start: true });
    const all = await client.listEvents({});
    expect(all.events.map((e) => [e.type, e.vm, e.reason])).toEqual([
      ["created", "one", "created stopped"],
      ["created", "two", "created to run"],
    ]);
    expect(all.events[0]!.revision < all.events[1]!.revision).toBe(true);
    const mine = await client.listEvents({ vm: "two" });
    expect(mine.events.map((e) => e.vm)).toEqual(["two"]);
    await expect(client.listEvents({ vm: "Bad Name" })).rejects.toThrow(/name: must be a DNS label/);
  });

  it("creates a replica group whole, and scales it up and down", async () => {
    const res = await client.createVm({ spec: { name: "web", kernel, memory: 64 }, replicas: 3 });
    expect(res.replicas.map((v) => [v.name, v.group])).toEqual([
      ["web-1", "web"],
      ["web-2", "web"],
      ["web-3", "web"],
    ]);
    expect((await client.scaleVmGroup({ group: "web", replicas: 5 })).created).toEqual(["web-4", "web-5"]);
    expect((await client.getVm({ name: "web-5" })).vm?.spec?.memory).toBe(64);
    expect((await client.scaleVmGroup({ group: "web", replicas: 2 })).deleting).toEqual([
      "web-3",
      "web-4",
      "web-5",
    ]);
    await expect(client.scaleVmGroup({ group: "nope", replicas: 1 })).rejects.toThrow(
      /no replica group "nope"/,
    );
  });

  it("refuses replicas that would share a host port, creating none", async () => {
    const spec = { name: "svc", kernel, forwards: [{ host: 8080, guest: 80 }] };
    await expect(client.createVm({ spec, replicas: 2 })).rejects.toThrow(
      /replicas: replicas cannot forward host ports/,
    );
    await expectNothingCreated();
  });

  it("creates no replica when one of the names is taken", async () => {
    await client.createVm({ spec: { name: "db-2", kernel } });
    await expect(client.createVm({ spec: { name: "db", kernel }, replicas: 3 })).rejects.toThrow(
      /VM "db-2" already exists/,
    );
    expect((await client.listVms({})).vms.map((v) => v.name)).toEqual(["db-2"]);
  });
});
