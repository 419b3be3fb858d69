import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Handler, type ListeningServer, listen } from "../daemon/http-server.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import type { PkiMaterial } from "../pki/pki-files.js";
import { makeTestPki } from "../testing/test-pki.js";
import { describeError } from "./cli-error.js";
import { callEndpoint } from "./unary-json.js";
import { startedAt } from "./vm-lifecycle.js";

// A real Connect server on loopback with a VmService whose calls record what arrived.
const seen: { name: string; authorization: string | null; contentType: string | null }[] = [];
const routes = (router: Parameters<NonNullable<Parameters<typeof connectNodeAdapter>[0]["routes"]>>[0]) =>
  router.service(VmService, {
    async restartVm(req, ctx) {
      seen.push({
        name: req.name,
        authorization: ctx.requestHeader.get("authorization"),
        contentType: ctx.requestHeader.get("content-type"),
      });
      return { vm: { name: req.name, status: { phase: "Running", startedAt: "2026-12-03T12:00:00.000Z" } } };
    },
    async startVm(req) {
      throw new ConnectError(`vm ${req.name} not found: create it with blixard vm create`, Code.NotFound);
    },
  });

function listenOn(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

describe("unaryJson: a Connect call without the Connect client", () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    server = createServer(connectNodeAdapter({ routes }));
    baseUrl = await listenOn(server);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sends the request as Connect JSON with the bearer token and returns the reply", async () => {
    seen.length = 0;
    const reply = await callEndpoint(
      { baseUrl, ca: undefined, token: "blx_ci_secret" },
      "blixard.v1.VmService/RestartVm",
      {
        name: "web",
      },
    );
    expect(seen).toEqual([
      { name: "web", authorization: "Bearer blx_ci_secret", contentType: "application/json" },
    ]);
    expect(startedAt(reply)).toBe("2026-12-03T12:00:00.000Z");
    expect(startedAt({})).toBe("");
  });

  it("fails with the code and message the Connect client gives, so the CLI prints the same line", async () => {
    const viaConnect = await createClient(VmService, createConnectTransport({ baseUrl, httpVersion: "1.1" }))
      .startVm({ name: "nope" })
      .catch((err: unknown) => err);
    const viaJson = await callEndpoint(
      { baseUrl, ca: undefined, token: undefined },
      "blixard.v1.VmService/StartVm",
      {
        name: "nope",
      },
    ).catch((err: unknown) => err);
    expect(viaJson).toBeInstanceOf(ConnectError);
    expect((viaJson as ConnectError).code).toBe(Code.NotFound);
    expect((viaJson as ConnectError).rawMessage).toBe((viaConnect as ConnectError).rawMessage);
    expect(describeError(viaJson, baseUrl)).toBe(describeError(viaConnect, baseUrl));
  });

  it("names a method the node does not have as Unimplemented, as Connect does", async () => {
    const err = await callEndpoint(
      { baseUrl, ca: undefined, token: undefined },
      "blixard.v1.VmService/NoSuchCall",
      {},
    ).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unimplemented);
  });

  it("reports a node that is not listening as unreachable, as with the Connect client", async () => {
    const closed = createServer();
    const url = await listenOn(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const viaConnect = await createClient(
      VmService,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    )
      .stopVm({ name: "web" })
      .catch((e: unknown) => e);
    const viaJson = await callEndpoint(
      { baseUrl: url, ca: undefined, token: undefined },
      "blixard.v1.VmService/StopVm",
      {
        name: "web",
      },
    ).catch((e: unknown) => e);
    expect((viaJson as ConnectError).code).toBe(Code.Unavailable);
    expect(describeError(viaJson, url)).toBe(describeError(viaConnect, url));
    expect(describeError(viaJson, url)).toMatch(/cannot reach the blixard node/);
  });

  it("refuses an endless reply instead of buffering it (a hostile node cannot exhaust the CLI's memory)", async () => {
    let written = 0;
    const hostile = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (written < 64 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
        if (written < 64 * 1024 * 1024) res.once("drain", pump);
        else res.end();
      };
      res.on("error", () => {});
      pump();
    });
    const url = await listenOn(hostile);
    try {
      const err = await callEndpoint(
        { baseUrl: url, ca: undefined, token: undefined },
        "blixard.v1.VmService/StartVm",
        {
          name: "web",
        },
      ).catch((e: unknown) => e);
      expect(describeError(err, url)).toMatch(/reply exceeded 4194304 bytes/);
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      hostile.closeAllConnections();
      await new Promise<void>((resolve) => hostile.close(() => resolve()));
    }
  });
});

describe("unaryJson over TLS", () => {
  let server: ListeningServer;
  let material: PkiMaterial;
  let other: PkiMaterial;
  const dirs: string[] = [];

  beforeAll(async () => {
    dirs.push(
      mkdtempSync(join(tmpdir(), "blixard-unary-tls-")),
      mkdtempSync(join(tmpdir(), "blixard-unary-tls-")),
    );
    ({ material } = await makeTestPki(dirs[0]!, "node-a"));
    ({ material: other } = await makeTestPki(dirs[1]!, "node-b"));
    server = await listen(connectNodeAdapter({ routes }) as Handler, "127.0.0.1", 0, material);
  });
  afterAll(async () => {
    await server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("verifies the node against the cluster CA and calls it", async () => {
    const reply = await callEndpoint(
      { baseUrl: `https://127.0.0.1:${server.port}`, ca: material.caPem, token: undefined },
      "blixard.v1.VmService/RestartVm",
      { name: "tls" },
    );
    expect((reply["vm"] as { name: string }).name).toBe("tls");
  });

  it("refuses a node whose certificate another CA signed (a man in the middle), sending nothing", async () => {
    seen.length = 0;
    const url = `https://127.0.0.1:${server.port}`;
    const err = await callEndpoint(
      { baseUrl: url, ca: other.caPem, token: "blx_ci_secret" },
      "blixard.v1.VmService/RestartVm",
      {
        name: "tls",
      },
    ).catch((e: unknown) => e);
    expect(describeError(err, url)).toMatch(/cannot verify the TLS certificate/);
    expect(seen).toEqual([]);
  });
});
