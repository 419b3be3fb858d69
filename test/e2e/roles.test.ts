/**
 * The policy table walked against a running node: every RPC of every service in the generated
 * descriptors, called over real HTTP with no credential and as each role.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessOf } from "../../src/core/policy.js";
import { ROLES, type Role, roleAtLeast } from "../../src/core/roles.js";
import { VmService } from "../../src/gen/blixard/v1/vm_pb.js";
import { REPO } from "./global-setup.js";
import { TestNode } from "./harness.js";

async function services(): Promise<DescService[]> {
  const dir = join(REPO, "src/gen/blixard/v1");
  const out: DescService[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith("_pb.ts"))) {
    const mod = (await import(join(dir, file))) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if ((value as { kind?: string })?.kind === "service") out.push(value as DescService);
    }
  }
  return out;
}

describe("roles against a running node", () => {
  let node: TestNode;
  const tokens = new Map<Role, string>();

  beforeAll(async () => {
    node = await TestNode.start();
    tokens.set("admin", node.adminToken());
    for (const role of ["viewer", "operator"] as const) {
      tokens.set(role, node.ok("token", "create", `walk-${role}`, "--role", role).trim());
    }
  });
  afterAll(async () => node?.destroy());

  const transport = (token: string | undefined) => {
    const bearer: Interceptor = (next) => (req) => {
      if (token) req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    return createConnectTransport({ baseUrl: node.url, httpVersion: "1.1", interceptors: [bearer] });
  };

  /** The call's status: "ok", or the Connect code name. Streams count once their first message arrives. */
  async function call(
    service: DescService,
    method: DescMethod,
    token: string | undefined,
    publicRefusal = false,
  ): Promise<string> {
    const client = createClient(service, transport(token)) as unknown as Record<
      string,
      (req: unknown, opts: { signal: AbortSignal }) => unknown
    >;
    // Requests that reach the handler are refused by validation, or do nothing harmful: Join carries
    // a join token in its body that this node never issued, and an invalid peer URL; Leave fails on
    // SQLite.
    const request =
      method.name === "Join" ? { token: "K10bogus::join:x.y", nodeId: "walker", peerUrl: "nope" } : {};
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 1500);
    try {
      const result = client[method.localName]!(request, { signal: controller.signal });
      if (method.methodKind === "server_streaming") {
        for await (const _ of result as AsyncIterable<unknown>) break;
      } else {
        await result;
      }
      return "ok";
    } catch (err) {
      const e = ConnectError.from(err);
      if (controller.signal.aborted && e.code === Code.Canceled) return "ok";
      // A public RPC that authenticates its caller itself (Join, by the join token in its body)
      // refuses a bad one in its own words, not with the policy's "send Authorization".
      if (publicRefusal && /send Authorization|needs the \w+ role/.test(e.rawMessage))
        return "policy refused";
      return Code[e.code]!;
    } finally {
      clearTimeout(timer);
    }
  }

  it("decides every RPC × role as the policy table says", async () => {
    const walked: string[] = [];
    for (const service of await services()) {
      for (const method of service.methods) {
        const path = `/${service.typeName}/${method.name}`;
        const access = accessOf(path);
        expect(access, `${path} has no policy entry`).toBeDefined();
        const anonymous = await call(service, method, undefined, access === "public");
        if (access !== "public") expect([path, anonymous]).toEqual([path, "Unauthenticated"]);
        else
          expect(["PermissionDenied", "policy refused"], `${path} without a credential`).not.toContain(
            anonymous,
          );
        for (const role of ROLES) {
          const got = await call(service, method, tokens.get(role), access === "public");
          const allowed = access === "public" || roleAtLeast(role, access!);
          // A public RPC may still refuse its own credential (Join: a join token this node never issued).
          const refusals =
            access === "public"
              ? ["PermissionDenied", "policy refused"]
              : ["PermissionDenied", "Unauthenticated"];
          if (allowed) expect(refusals, `${path} as ${role}`).not.toContain(got);
          else expect([path, role, got]).toEqual([path, role, "PermissionDenied"]);
        }
        walked.push(path);
      }
    }
    expect(walked.length).toBeGreaterThan(20);
  }, 120_000);

  it("lets an operator create VMs from the image directory only, and records who did", async () => {
    const images = join(node.dataDir, "images", "ops");
    mkdirSync(images, { recursive: true });
    writeFileSync(join(images, "vmlinux"), "not booted: the VM is created stopped");
    const vms = createClient(VmService, transport(tokens.get("operator")));
    await vms.createVm({ spec: { name: "op-vm", kernel: join(images, "vmlinux") }, start: false });
    // The attack from the issue: a VM whose disk is the host's password file.
    const err = await vms
      .createVm({
        spec: { name: "steal", kernel: join(images, "vmlinux"), disk: "/etc/shadow" },
        start: false,
      })
      .then(() => undefined, ConnectError.from);
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(err?.rawMessage).toMatch(
      /^permission denied: spec\.disk: host path \/etc\/shadow .* needs the admin role$/,
    );
    expect(node.cli("vm", "get", "steal").code).not.toBe(0);
    const events = node.ok("events", "--vm", "op-vm");
    expect(events).toMatch(/^TIME\s+TYPE\s+VM\s+NODE\s+ACTOR\s+REASON$/m);
    expect(events).toMatch(/created\s+op-vm\s+\S+\s+walk-operator\s/);
    const viewer = createClient(VmService, transport(tokens.get("viewer")));
    expect((await viewer.listVms({})).vms.map((v) => v.name)).toEqual(["op-vm"]);
    const denied = await viewer.deleteVm({ name: "op-vm" }).then(() => undefined, ConnectError.from);
    expect(denied?.code).toBe(Code.PermissionDenied);
    node.ok("vm", "delete", "op-vm");
  });
});
