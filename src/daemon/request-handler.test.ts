import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bearerTokenChecker } from "../api/authenticator.js";
import { withErrorMapping } from "../api/error-mapping.js";
import { EventLog } from "../api/event-log.js";
import { authorize, principalValues } from "../api/principal-context.js";
import { TokenRepository } from "../api/token-repository.js";
import { tokenServiceImpl } from "../api/token-service.js";
import { VmRepository } from "../api/vm-repository.js";
import { vmServiceImpl } from "../api/vm-service.js";
import { TokenService } from "../gen/blixard/v1/token_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { cryptoRandom } from "../platform/crypto-random.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { textStream } from "../testing/text-stream.js";
import { checkHostFiles } from "./admission.js";
import { createHostCheck } from "./host-check.js";
import { type ListeningServer, listen } from "./http-server.js";
import { createRequestHandler } from "./request-handler.js";

// The real request handler, authenticator, policy interceptor and services, over real HTTP on loopback.
describe("request handler: every request authenticated and authorized", () => {
  let server: ListeningServer;
  let store: SqliteStore;
  let clock: ManualClock;
  let dir: string;
  let url: string;
  let admin: string;
  let imageKernel: string;
  let peerCalls: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "blixard-auth-"));
    mkdirSync(join(dir, "images", "default"), { recursive: true });
    imageKernel = join(dir, "images", "default", "vmlinux");
    writeFileSync(imageKernel, "kernel");
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    const tokens = new TokenRepository(store, clock, cryptoRandom);
    admin = `blx_admin_${cryptoRandom.hex(32)}`;
    expect(await tokens.bootstrapAdmin(admin)).toBe(true);
    const vms = vmServiceImpl({
      repo: new VmRepository(store, clock, "node-a"),
      clock,
      nodeId: "node-a",
      admission: checkHostFiles,
      defaultImage: async () => ({ kernel: imageKernel }),
      logs: {
        stream: () => textStream([], 0),
        async *follow() {},
      },
      events: new EventLog(store),
      imageRoot: join(dir, "images"),
    });
    const connect = connectNodeAdapter({
      interceptors: [authorize],
      contextValues: principalValues,
      routes: (router) => {
        router.service(VmService, withErrorMapping(vms));
        router.service(TokenService, withErrorMapping(tokenServiceImpl(tokens)));
      },
    });
    const handler = createRequestHandler({
      connect,
      registry: new Registry(),
      checkers: [bearerTokenChecker(tokens)],
      hostCheck: createHostCheck({
        bindHost: "127.0.0.1",
        advertiseHost: "127.0.0.1",
        machine: () => ({ hostname: "testhost", addresses: [] }),
      }),
      functionPeer: (vm, _path, _req, res) => {
        peerCalls.push(vm);
        res.end("instance");
      },
    });
    server = await listen(handler, "127.0.0.1", 0);
    peerCalls = [];
    url = `http://127.0.0.1:${server.port}`;
  });

  afterEach(async () => {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const transport = (token: string | undefined, grpc = false) => {
    const interceptors = token
      ? [
          (next: (r: { header: Headers }) => unknown) => (req: { header: Headers }) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ]
      : [];
    return grpc
      ? createGrpcTransport({ baseUrl: url, interceptors: interceptors as never })
      : createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: interceptors as never });
  };
  const vmsAs = (token?: string, grpc = false) => createClient(VmService, transport(token, grpc));
  const tokensAs = (token?: string) => createClient(TokenService, transport(token));
  const codeOf = async (call: Promise<unknown>) =>
    call.then(
      () => "ok",
      (err: unknown) => Code[ConnectError.from(err).code],
    );

  it("forwards to function instances only for other nodes' certificates, never for a user's token (bypassing the gateway)", async () => {
    expect((await fetch(`${url}/fn-peer/fn-hello-1-0/`)).status).toBe(401);
    const res = await fetch(`${url}/fn-peer/fn-hello-1-0/`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("only cluster nodes");
    expect(peerCalls).toEqual([]);
  });

  it("refuses a loopback request without a credential (a guest via 10.0.2.2, or any local user)", async () => {
    const res = await fetch(`${url}/blixard.v1.VmService/ListVms`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("no credential");
    expect(await codeOf(vmsAs().listVms({}))).toBe("Unauthenticated");
    expect(await codeOf(vmsAs("blx_admin_0000").listVms({}))).toBe("Unauthenticated");
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it("refuses a DNS-rebinding request naming another host, even with a valid token", async () => {
    const headers = { authorization: `Bearer ${admin}`, host: `attacker.example:${server.port}` };
    // fetch() will not set Host; node:http will.
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      request(`${url}/metrics`, { headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    expect(status).toBe(421);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(
      200,
    );
  });

  it("refuses cross-origin browser requests", async () => {
    const auth = { authorization: `Bearer ${admin}` };
    const evil = await fetch(`${url}/metrics`, { headers: { ...auth, origin: "https://evil.example" } });
    expect(evil.status).toBe(403);
    const site = await fetch(`${url}/metrics`, { headers: { ...auth, "sec-fetch-site": "cross-site" } });
    expect(site.status).toBe(403);
    const own = await fetch(`${url}/metrics`, { headers: { ...auth, origin: url } });
    expect(own.status).toBe(200);
  });

  it("gives each role what the policy table says, over Connect and gRPC", async () => {
    const viewer = (await tokensAs(admin).createToken({ name: "v", role: "viewer" })).secret;
    const operator = (await tokensAs(admin).createToken({ name: "o", role: "operator" })).secret;
    expect(await codeOf(vmsAs(viewer).listVms({}))).toBe("ok");
    expect(await codeOf(vmsAs(viewer).createVm({ spec: { name: "a" } }))).toBe("PermissionDenied");
    expect(await codeOf(vmsAs(viewer, true).createVm({ spec: { name: "a" } }))).toBe("PermissionDenied");
    expect(await codeOf(tokensAs(viewer).listTokens({}))).toBe("PermissionDenied");
    expect(await codeOf(vmsAs(operator).createVm({ spec: { name: "a" } }))).toBe("ok");
    expect(await codeOf(tokensAs(operator).createToken({ name: "x", role: "admin" }))).toBe(
      "PermissionDenied",
    );
    expect(await codeOf(vmsAs(admin).deleteVm({ name: "a" }))).toBe("ok");
  });

  it("refuses an operator a host path outside the image directory, naming the field", async () => {
    const operator = (await tokensAs(admin).createToken({ name: "o", role: "operator" })).secret;
    // The attack from the issue: a VM whose disk is the host's password file.
    const err = await vmsAs(operator)
      .createVm({ spec: { name: "steal", kernel: imageKernel, disk: "/etc/shadow" } })
      .then(() => undefined, ConnectError.from);
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(err?.rawMessage).toBe(
      `permission denied: spec.disk: host path /etc/shadow is outside the node's image directory ${join(dir, "images")}/ and needs the admin role`,
    );
    expect(await codeOf(vmsAs(operator).getVm({ name: "steal" }))).toBe("NotFound");
    // The same spec from an admin passes the policy (and fails only the host check: not readable here
    // unless root, or succeeds as root).
    const asAdmin = await codeOf(
      vmsAs(admin).createVm({ spec: { name: "steal", kernel: imageKernel, disk: "/etc/hostname" } }),
    );
    expect(asAdmin).toBe("ok");
  });

  it("refuses an expired token, saying so", async () => {
    const short = (await tokensAs(admin).createToken({ name: "short", role: "viewer", ttlSeconds: 60 }))
      .secret;
    expect(await codeOf(vmsAs(short).listVms({}))).toBe("ok");
    clock.advance(61_000);
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${short}` } });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("unauthenticated");
    expect(body.message).toMatch(/token "short" expired at 2026-01-01T00:01:00.000Z/);
  });

  it("refuses a revoked token, and rotation retires the old secret", async () => {
    const t = (await tokensAs(admin).createToken({ name: "ci", role: "operator" })).secret;
    await tokensAs(admin).revokeToken({ name: "ci" });
    const revoked = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${t}` } });
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { message: string }).message).toContain(
      'token "ci" does not exist or was revoked',
    );

    const fresh = (await tokensAs(admin).rotateToken({ name: "admin" })).secret;
    expect(await codeOf(tokensAs(admin).listTokens({}))).toBe("Unauthenticated");
    const { tokens } = await tokensAs(fresh).listTokens({});
    expect(tokens.map((x) => x.name)).toEqual(["admin"]);
    expect(JSON.stringify(tokens)).not.toContain(fresh.slice(-64));
  });

  it("records the token name as the actor of the events a request causes", async () => {
    const operator = (await tokensAs(admin).createToken({ name: "deployer", role: "operator" })).secret;
    await vmsAs(operator).createVm({ spec: { name: "web" } });
    await vmsAs(operator).stopVm({ name: "web" });
    await vmsAs(admin).deleteVm({ name: "web" });
    const { events } = await vmsAs(admin).listEvents({});
    expect(events.map((e) => [e.type, e.vm, e.actor, e.reason])).toEqual([
      ["created", "web", "deployer", "created stopped"],
      ["requested", "web", "deployer", "stop requested"],
      ["requested", "web", "admin", "delete requested"],
    ]);
  });
});
