/**
 * Bounded inputs against a real node process. The attacks: a 200 MB CreateVm (once accepted: 2.5 GB of
 * RSS and a 1.6 GB store), a gzip bomb (204 KB that expanded to +620 MB of RSS), the same body sent
 * chunked with no length, unknown fields (silently dropped, so a typo became a default), and a forward
 * of the node's own API port. Each is refused with a clear error, the node's resident memory stays
 * bounded (measured from /proc, not timed), and the node keeps serving.
 */
import { connect } from "node:http2";
import { createGzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, isAlive, TestNode } from "./harness.js";
import { bearer, rawRequest, repeated, rssBytes } from "./raw-request.js";

const MiB = 1024 * 1024;
const CREATE = "/blixard.v1.VmService/CreateVm";

/** ~600 MB of JSON string content, gzipped (about 600 KB: gzip tops out near 1000:1). */
async function gzipBomb(expandedMiB: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on("data", (c: Buffer) => parts.push(c));
  const done = new Promise((resolve) => gzip.on("end", resolve));
  gzip.write('{"spec":{"name":"bomb","cmdline":"');
  const chunk = Buffer.alloc(MiB, "a");
  for (let i = 0; i < expandedMiB; i++) {
    if (!gzip.write(chunk)) await new Promise((r) => gzip.once("drain", r));
  }
  gzip.end('"}}');
  await done;
  return Buffer.concat(parts);
}

describe("bounded requests against a running node", () => {
  let node: TestNode;
  let json: Record<string, string>;

  beforeAll(async () => {
    node = await TestNode.start();
    json = { "content-type": "application/json", ...bearer(node.dataDir) };
  });
  afterAll(async () => node?.destroy());

  async function stillServes(): Promise<void> {
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    const list = await rawRequest(`${node.url}/blixard.v1.VmService/ListVms`, {
      headers: json,
      body: Buffer.from("{}"),
    });
    expect(list.status).toBe(200);
  }

  it("refuses a 200 MB CreateVm and a 600 MB gzip bomb with RSS bounded, and keeps serving", async () => {
    const pid = node.pid!;
    const before = rssBytes(pid);
    let peak = before;
    const sample = setInterval(() => {
      if (isAlive(pid)) peak = Math.max(peak, rssBytes(pid));
    }, 20);
    try {
      // Declared length: refused from the headers alone.
      const declared = await rawRequest(`${node.url}${CREATE}`, {
        headers: { ...json, "content-length": String(200 * MiB) },
        body: repeated("a", MiB, 200),
      });
      expect(declared.status).toBe(413);
      expect(JSON.parse(declared.body)).toMatchObject({
        code: "resource_exhausted",
        message: expect.stringMatching(/at most 1048576 .*--max-request-bytes/),
      });

      // Chunked, no length: Connect stops reading past the limit.
      const chunked = await rawRequest(`${node.url}${CREATE}`, {
        headers: { ...json, "transfer-encoding": "chunked" },
        body: repeated("a", MiB, 200),
      });
      expect(JSON.parse(chunked.body)).toMatchObject({ code: "resource_exhausted" });

      const bomb = await gzipBomb(600);
      expect(bomb.length).toBeLessThan(MiB);
      const inflated = await rawRequest(`${node.url}${CREATE}`, {
        headers: { ...json, "content-encoding": "gzip" },
        body: bomb,
      });
      expect(JSON.parse(inflated.body)).toMatchObject({
        code: "resource_exhausted",
        message: expect.stringMatching(/larger than configured readMaxBytes 1048576 after decompression/),
      });
    } finally {
      clearInterval(sample);
    }
    // Generous: a node that buffered any of these bodies grew by hundreds of MB at least.
    expect(peak - before).toBeLessThan(200 * MiB);
    await stillServes();
    expect(node.ok("vm", "list", "-o", "json").trim()).toBe("[]");
  }, 120_000);

  it("refuses a gRPC message whose length prefix says 200 MB, over HTTP/2, without reading it", async () => {
    const pid = node.pid!;
    const before = rssBytes(pid);
    const session = connect(node.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": CREATE,
        "content-type": "application/grpc",
        te: "trailers",
        ...bearer(node.dataDir),
      });
      const trailers = new Promise<Record<string, unknown>>((resolve) => {
        stream.on("trailers", (t) => resolve(t));
        stream.on("response", (h) => {
          if (h["grpc-status"] !== undefined) resolve(h);
        });
      });
      stream.on("error", () => {});
      stream.on("data", () => {});
      const header = Buffer.alloc(5);
      header.writeUInt32BE(200 * MiB, 1);
      stream.write(header);
      // Some of the announced body, as an attacker would stream it.
      for (let i = 0; i < 8; i++) stream.write(Buffer.alloc(MiB, "a"));
      const answer = await trailers;
      expect(answer["grpc-status"]).toBe("8"); // RESOURCE_EXHAUSTED
      expect(String(answer["grpc-message"])).toMatch(/readMaxBytes|larger than/);
      stream.close();
    } finally {
      session.close();
    }
    expect(rssBytes(pid) - before).toBeLessThan(100 * MiB);
    await stillServes();
  });

  it("refuses an unknown JSON field, naming it, and creates nothing", async () => {
    const reply = await rawRequest(`${node.url}${CREATE}`, {
      headers: json,
      body: Buffer.from(JSON.stringify({ spec: { name: "typo", kernel: image().kernel, vcpu: 2 } })),
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/vcpu/),
    });
    expect(node.ok("vm", "list", "-o", "json").trim()).toBe("[]");
  });

  it("refuses an unknown binary protobuf field, naming where it was", async () => {
    // CreateVmRequest{spec: VmSpec{name: "typo", field 99: varint 1}}: field 99 is in no version of VmSpec.
    const spec = Buffer.concat([
      Buffer.from([0x0a, 4]),
      Buffer.from("typo"),
      Buffer.from([0x98, 0x06, 0x01]),
    ]);
    const body = Buffer.concat([Buffer.from([0x0a, spec.length]), spec]);
    const reply = await rawRequest(`${node.url}${CREATE}`, {
      headers: { ...json, "content-type": "application/proto" },
      body,
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^spec: unknown field number 99/),
    });
  });

  it.each([
    ["application/proto", "", Buffer.from([0])],
    ["application/json", "gzip", Buffer.from("not gzip")],
  ])(
    "answers a malformed %s body (encoding %j) with invalid_argument, not internal",
    async (type, encoding, body) => {
      const reply = await rawRequest(`${node.url}${CREATE}`, {
        headers: { ...json, "content-type": type, ...(encoding ? { "content-encoding": encoding } : {}) },
        body,
      });
      expect(reply.status).toBe(400);
      expect(JSON.parse(reply.body)).toMatchObject({
        code: "invalid_argument",
        message: expect.stringMatching(/parse binary|decompression failed/),
      });
      await stillServes();
    },
  );

  it.each([
    [(n: TestNode) => n.port, /spec\.forwards\.0\.host: port \d+ is this node's API port/],
    [() => 80, /spec\.forwards\.0\.host: must be 1024 or above/],
  ])("refuses a forward of a port the VM must not hold (%#)", (port, why) => {
    const res = node.cli("vm", "create", "web", "--kernel", image().kernel, "--forward", `${port(node)}:80`);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(why);
    expect(node.ok("vm", "list", "-o", "json").trim()).toBe("[]");
  });
});
