/**
 * Functions with real VMs (docs/functions.md): a cold start on the first request, scale-up under
 * concurrent requests, scale to zero when idle, an instance killed mid-request and replaced, a new
 * version served while the old one drains, invalid specs refused; and in a two-node cluster, node A's
 * gateway reaching an instance placed on node B (over the nodes' mutual TLS).
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, image, TestNode, until } from "./harness.js";

interface FnJson {
  version: number;
  instances: { vm: string; version: number; state: string; node: string; inFlight: number }[];
}

/** GETs from a gateway; `status` 0 with `error` when the connection broke. */
function get(
  port: number,
  path: string,
  onData?: () => void,
): Promise<{ status: number; body: string; instance: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: 240_000 }, (res) => {
      let size = 0;
      let body = "";
      res.on("data", (c: Buffer) => {
        onData?.();
        size += c.length;
        if (body.length < 4096) body += c.toString("latin1");
      });
      const instance = String(res.headers["x-blixard-instance"] ?? "");
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: size > 4096 ? `${size} bytes` : body, instance }),
      );
      res.on("error", (err) => resolve({ status: 0, body, instance, error: err.message }));
      res.on("aborted", () => resolve({ status: 0, body, instance, error: "aborted" }));
    });
    req.on("error", (err) => resolve({ status: 0, body: "", instance: "", error: err.message }));
    req.end();
  });
}

describe("functions on a node", () => {
  let node: TestNode;
  let gw: number;
  const { kernel, initrd } = image();

  beforeAll(async () => {
    gw = await freePort();
    node = await TestNode.start(["--gateway-bind", `127.0.0.1:${gw}`]);
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
  });

  const fn = (name: string) => JSON.parse(node.ok("fn", "get", name, "-o", "json")) as FnJson;
  const live = (name: string) => fn(name).instances.filter((i) => i.state !== "deleting");
  const deploy = (name: string, ...flags: string[]) =>
    node.ok(
      "fn",
      "deploy",
      name,
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--cmdline",
      "blixard.probe=1",
      ...flags,
    );
  const events = () => node.ok("events");

  it("refuses invalid specs naming the field, and creates nothing", () => {
    const zero = node.cli("fn", "deploy", "bad", "--concurrency", "0");
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toContain("spec.concurrency: must be at least 1");
    const range = node.cli("fn", "deploy", "bad", "--min-instances", "4", "--max-instances", "2");
    expect(range.stderr).toContain("spec.maxInstances: must be at least minInstances (4)");
    const env = node.cli("fn", "deploy", "bad", "--env", "A=1 init=/bin/sh");
    expect(env.stderr).toContain("spec.env.A");
    expect(node.ok("fn", "list")).not.toContain("bad");
  });

  it("cold-starts the first request of a function with minInstances 0 and answers it", async () => {
    deploy("hello", "--concurrency", "2", "--max-instances", "3", "--idle-timeout", "15");
    expect(live("hello")).toEqual([]);
    const first = await get(gw, "/fn/hello/");
    expect(first.status).toBe(200);
    expect(first.body).toContain("<h1>fn-hello-1-0</h1>");
    expect(node.ok("fn", "invoke", "hello", "--gateway", `http://127.0.0.1:${gw}`)).toContain("fn-hello-1-0");
    expect(events()).toMatch(/function-scaled\s+hello.*pool 0 -> 1/);
  }, 240_000);

  it("scales to several instances under concurrent requests, serving every one", async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => get(gw, "/fn/hello/cgi-bin/zeros?mib=24")),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.every((a) => a.body === `${24 * 1048576} bytes`)).toBe(true);
    expect(events()).toMatch(
      /function-scaled\s+hello.*pool 1 -> [23]: \d+ request\(s\) in flight or waiting at concurrency 2/,
    );
  }, 300_000);

  it("scales to zero after idleTimeout", async () => {
    await until("the pool to scale to zero", async () => live("hello").length === 0 || undefined, 120_000);
    expect(events()).toMatch(/stopping fn-hello-1-\d \(idle for 15s\)/);
  }, 150_000);

  it("fails a request whose instance is killed mid-answer (no hang), replaces the instance, and serves the next request", async () => {
    expect((await get(gw, "/fn/hello/")).status).toBe(200);
    const [instance] = live("hello");
    const pid = node.vm(instance!.vm).status.pid!;
    let streaming = false;
    const long = get(gw, "/fn/hello/cgi-bin/zeros?mib=256", () => {
      streaming = true;
    });
    await until("the answer to be streaming", async () => streaming || undefined, 60_000);
    process.kill(pid, "SIGKILL");
    const broken = await long;
    expect(broken.status === 502 || broken.error !== undefined).toBe(true);
    await until(
      "the crashed instance to be replaced",
      async () => (events().includes("failed; a new instance replaces it") ? true : undefined),
      60_000,
    );
    const next = await get(gw, "/fn/hello/");
    expect(next.status).toBe(200);
    expect(next.instance).not.toBe("");
  }, 240_000);

  it("serves version 2 after a deploy while version 1 drains its requests in flight", async () => {
    const v1 = (await get(gw, "/fn/hello/")).instance;
    expect(v1).toMatch(/^fn-hello-1-/);
    let streaming = false;
    const draining = get(gw, "/fn/hello/cgi-bin/zeros?mib=64", () => {
      streaming = true;
    });
    await until("the v1 answer to be streaming", async () => streaming || undefined, 60_000);
    deploy("hello", "--concurrency", "2", "--max-instances", "3", "--idle-timeout", "15");
    // Gateways read the instance table every second: the deploy reaches them within that.
    const v2 = await until(
      "a request served by version 2",
      async () => {
        const r = await get(gw, "/fn/hello/");
        expect(r.status).toBe(200);
        return r.instance.startsWith("fn-hello-2-") ? r : undefined;
      },
      240_000,
    );
    expect(v2.body).toContain("<h1>fn-hello-2-0</h1>");
    const old = await draining;
    expect(old).toMatchObject({ status: 200, body: `${64 * 1048576} bytes`, instance: v1 });
    await until(
      "version 1 to stop",
      async () => (live("hello").every((i) => i.version === 2) ? true : undefined),
      60_000,
    );
    expect(events()).toContain(`stopping ${v1} (drained: version 2 replaces version 1)`);
    node.ok("fn", "delete", "hello");
    await until(
      "the instances to go",
      async () => (node.ok("vm", "list").includes("fn-hello") ? undefined : true),
      120_000,
    );
  }, 300_000);
});

describe("functions in a two-node cluster", () => {
  let a: TestNode;
  let b: TestNode;
  let gw: number;
  const { kernel, initrd } = image();

  beforeAll(async () => {
    gw = await freePort();
    a = await TestNode.start(["--cluster-init", "--gateway-bind", `127.0.0.1:${gw}`, "--label", "side=a"], {
      portSpan: 3,
    });
    b = await TestNode.start(
      [
        "--join",
        `127.0.0.1:${a.port}`,
        "--token",
        a.joinToken(),
        "--gateway-bind",
        "off",
        "--label",
        "side=b",
      ],
      { portSpan: 3 },
    );
  }, 180_000);
  afterAll(async () => {
    await b?.destroy();
    await a?.destroy();
  });

  it("node A's gateway reaches an instance placed on node B", async () => {
    a.ok(
      "fn",
      "deploy",
      "far",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--constraint",
      "side=b",
      "--min-instances",
      "1",
    );
    const answer = await get(gw, "/fn/far/");
    expect(answer).toMatchObject({ status: 200, instance: "fn-far-1-0" });
    expect(answer.body).toContain("<h1>fn-far-1-0</h1>");
    const info = JSON.parse(a.ok("fn", "get", "far", "-o", "json")) as FnJson;
    const bId = JSON.parse(b.ok("node", "list", "-o", "json")).find(
      (n: { labels?: Record<string, string> }) => n.labels?.["side"] === "b",
    )?.id;
    expect(info.instances[0]?.node).toBe(bId);
  }, 300_000);
});
