import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { instanceRecord } from "../../core/function-instance.js";
import { decodeFunctionLoad, encodeFunctionRecord, type FunctionRecord } from "../../core/function-record.js";
import { parseFunctionSpec } from "../../core/function-spec.js";
import { keys } from "../../core/keys.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import { createVmParts } from "../../state/vm-transactions.js";
import { MemoryStore } from "../../store/memory/memory-store.js";
import { placeOn, reportStatus } from "../../testing/seed-vms.js";
import { FunctionGateway } from "./function-gateway.js";

/** An instance stand-in: a local HTTP server whose answers the test controls. */
async function instanceServer(
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe("FunctionGateway", () => {
  let store: MemoryStore;
  let gateway: FunctionGateway;
  let front: Server;
  let frontPort: number;
  const servers: Server[] = [];
  /** The instance host port each VM's forward names → the real test server's port. */
  const portOf = new Map<number, number>();

  beforeEach(async () => {
    store = new MemoryStore({ clock: systemClock });
    gateway = new FunctionGateway({
      store,
      clock: systemClock,
      logger: silentLogger,
      nodeId: "n1",
      lease: () => undefined,
      domain: () => "fn.test",
      queueLimit: 2,
      holdTimeoutMs: 1500,
      refreshMs: 100,
      connect: async (target, req) =>
        httpRequest({
          host: "127.0.0.1",
          port: portOf.get(target.port)!,
          method: req.method,
          path: req.path,
          headers: req.headers,
        }),
    });
    await gateway.start();
    front = createServer((req, res) => gateway.handle(req, res));
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    frontPort = (front.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await gateway.stop();
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    portOf.clear();
  });

  async function deploy(over: Record<string, unknown> = {}): Promise<FunctionRecord> {
    const spec = parseFunctionSpec({
      name: "hello",
      kernel: "/images/vmlinux",
      concurrency: 1,
      maxInstances: 2,
      ...over,
    });
    const record: FunctionRecord = { name: "hello", version: 1, spec, createdAt: "", history: [] };
    await store.put(keys.function("hello"), encodeFunctionRecord(record));
    return record;
  }

  async function addInstance(
    record: FunctionRecord,
    index: number,
    handler: Parameters<typeof createServer>[1],
  ): Promise<void> {
    const { server, port } = await instanceServer(handler);
    servers.push(server);
    const hostPort = 41000 + index;
    portOf.set(hostPort, port);
    const vm = instanceRecord(record, index, hostPort, new Date().toISOString());
    const parts = createVmParts(vm, { type: "put", key: "/test/event", value: "{}" });
    await store.txn(parts);
    await placeOn(store, vm.name, "n1");
    await reportStatus(store, vm.name, "n1", { phase: "Running", health: "healthy" });
  }

  function get(
    path: string,
    headers: Record<string, string> = {},
    body?: string,
  ): Promise<{ status: number; body: string; instance?: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port: frontPort, path, headers, method: body ? "POST" : "GET" },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              instance: res.headers["x-blixard-instance"] as string | undefined,
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  it("forwards /fn/NAME/... and Host NAME.<domain> to a ready instance, request and answer bodies streamed through", async () => {
    const record = await deploy();
    await addInstance(record, 0, (req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => res.end(`${req.method} ${req.url} ${body} ${req.headers["x-forwarded-for"]}`));
    });
    const byPath = await get("/fn/hello/a/b?x=1", {}, "ping");
    expect(byPath).toMatchObject({
      status: 200,
      body: "POST /a/b?x=1 ping 127.0.0.1",
      instance: "fn-hello-1-0",
    });
    expect((await get("/c", { host: "hello.fn.test:7080" })).body).toContain("GET /c");
  });

  it("answers 404 for an unknown function and for a request that names none", async () => {
    expect(await get("/fn/nope/")).toMatchObject({
      status: 404,
      body: expect.stringContaining('function "nope" not found'),
    });
    expect((await get("/other")).status).toBe(404);
  });

  it("holds a request until an instance is ready, and reports it waiting (what makes the pool start one)", async () => {
    const record = await deploy();
    const answer = get("/fn/hello/");
    await expect
      .poll(async () => {
        const kv = await store.get(keys.functionLoad("n1", "hello"));
        return kv ? decodeFunctionLoad(kv.value) : undefined;
      })
      .toMatchObject({ ok: true, value: { waiting: 1 } });
    await addInstance(record, 0, (_req, res) => res.end("cold"));
    expect(await answer).toMatchObject({ status: 200, body: "cold" });
  });

  it("answers 503 with the reason when no instance becomes ready in time, and when the queue is full", async () => {
    await deploy();
    const held = [get("/fn/hello/"), get("/fn/hello/")];
    await expect.poll(() => gateway.load.waitingFor("hello")).toBe(2);
    const full = await get("/fn/hello/");
    expect(full).toMatchObject({ status: 503, body: expect.stringContaining("2 requests already wait") });
    for (const r of await Promise.all(held)) {
      expect(r).toMatchObject({
        status: 503,
        body: expect.stringContaining("no instance became ready within 2s (0 starting)"),
      });
    }
  });

  it("fails a request with a clear 502 when its instance dies before answering, not a hang", async () => {
    const record = await deploy();
    await addInstance(record, 0, (req) => req.socket.destroy());
    const r = await get("/fn/hello/");
    expect(r.status).toBe(502);
    expect(r.body).toContain("instance fn-hello-1-0 failed before answering");
    expect(gateway.load.inFlight("hello", "fn-hello-1-0")).toBe(0);
  });

  it("sends at most `concurrency` requests to an instance while the pool may grow; the rest wait for a free one", async () => {
    const record = await deploy({ concurrency: 1, maxInstances: 2 });
    const release: (() => void)[] = [];
    await addInstance(record, 0, (_req, res) => release.push(() => res.end("done")));
    const first = get("/fn/hello/");
    await expect.poll(() => release.length).toBe(1);
    const second = get("/fn/hello/");
    await expect.poll(() => gateway.load.waitingFor("hello")).toBe(1);
    expect(release).toHaveLength(1);
    release[0]!();
    await expect.poll(() => release.length).toBe(2);
    release[1]!();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });
});
