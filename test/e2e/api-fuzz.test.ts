/**
 * Property test against a running node's API over real HTTP: random and malformed requests (Connect
 * JSON and binary, random field names, huge strings, wrong types, random paths and methods). Every
 * reply is either a success whose spec is one the API's own schema accepts, or an error that names the
 * field (or a clear protocol error); afterwards the node still serves. Seeded: set BLIXARD_FUZZ_SEED to
 * replay; the seed is printed when the property fails.
 */
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { specInputFromProto } from "../../src/api/convert.js";
import { parseVmSpec } from "../../src/core/vm-spec.js";
import { VmSchema } from "../../src/gen/blixard/v1/vm_pb.js";
import { image, TestNode } from "./harness.js";
import { bearer, type RawReply, rawRequest } from "./raw-request.js";

const SEED = Number(process.env["BLIXARD_FUZZ_SEED"] ?? Date.now() % 2 ** 31);
const RUNS = 400;
const SERVICE = "/blixard.v1.VmService";
/** The VM the fuzzer's updates aim at. */
const TARGET = "fuzz-target";
const METHODS = [
  "CreateVm",
  "GetVm",
  "ListVms",
  "StartVm",
  "StopVm",
  "DeleteVm",
  "GetVmLogs",
  "ListEvents",
  "ScaleVmGroup",
  "UpdateVm",
];

/** Connect error codes a client can act on; "internal" or "unknown" would mean the node broke. */
const CLIENT_CODES = new Set([
  "invalid_argument",
  "not_found",
  "already_exists",
  "failed_precondition",
  "resource_exhausted",
  "unimplemented",
  "aborted",
]);

describe("the API under random and malformed requests", () => {
  let node: TestNode;
  let auth: Record<string, string>;
  const kernel = () => image().kernel;

  beforeAll(async () => {
    node = await TestNode.start();
    auth = bearer(node.dataDir);
  });
  afterAll(async () => node?.destroy());

  const word = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,11}$/);
  const junk: fc.Arbitrary<JsonValue> = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
    fc.string({ minLength: 5000, maxLength: 70_000, unit: "grapheme-ascii" }),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 70 }),
    fc.dictionary(word, fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  );
  const name = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/), fc.string({ maxLength: 80 }));
  /** Mostly plausible specs, with any field swapped for junk and unknown fields added. */
  const spec = fc
    .record(
      {
        name,
        kernel: fc.oneof(fc.constant(kernel()), fc.constant("/etc/../etc/shadow"), fc.string()),
        vcpus: fc.oneof(fc.integer({ min: 0, max: 80 }), junk),
        memory: fc.oneof(fc.integer({ min: 0, max: 4096 }), junk),
        driver: fc.constantFrom("qemu", "microvm-nix", "xen"),
        cmdline: fc.oneof(fc.string({ maxLength: 100 }), junk),
        forwards: fc.array(
          fc.record({
            host: fc.integer({ min: 0, max: 70_000 }),
            guest: fc.integer({ min: 0, max: 70_000 }),
          }),
          { maxLength: 3 },
        ),
        healthCheck: fc.record(
          {
            type: fc.constantFrom("tcp", "http", "console", "exec"),
            pattern: fc.oneof(fc.constantFrom("(.|.)*QQQ", "(a)\\1", "(?=x)", "ready"), fc.string()),
            path: fc.oneof(fc.constant("/"), fc.string()),
            port: fc.integer({ min: 0, max: 70_000 }),
          },
          { requiredKeys: ["type"] },
        ),
        placement: fc.record(
          { constraints: fc.array(fc.string({ maxLength: 300 }), { maxLength: 3 }), node: name },
          { requiredKeys: [] },
        ),
        microvm: fc.record(
          { runner: fc.string(), config: fc.string(), flake: fc.string() },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ["name"] },
    )
    .chain((s) =>
      fc
        .record({
          extra: fc.dictionary(word, junk, { maxKeys: 2 }),
          swap: fc.option(fc.tuple(fc.constantFrom(...Object.keys(s)), junk)),
        })
        .map(({ extra, swap }) => ({ ...s, ...(swap ? { [swap[0]]: swap[1] } : {}), ...extra })),
    );

  /** Specs the API should accept, so that the success branch (what is stored is valid) is exercised. */
  const validSpec = fc.record(
    {
      name: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/),
      kernel: fc.constant(kernel()),
      vcpus: fc.integer({ min: 1, max: 4 }),
      memory: fc.integer({ min: 32, max: 512 }),
      cmdline: fc.stringMatching(/^[a-z0-9= ]{0,60}$/),
      forwards: fc.array(
        fc.record({
          host: fc.integer({ min: 20_000, max: 60_000 }),
          guest: fc.integer({ min: 1, max: 65_535 }),
        }),
        { maxLength: 2 },
      ),
      healthCheck: fc.record({
        type: fc.constant("console"),
        pattern: fc.constantFrom("(.|.)*QQQ", "ready$", "^login: "),
      }),
      placement: fc.record({
        constraints: fc.array(fc.stringMatching(/^[a-z]{1,8}!?=[a-z0-9]{1,8}$/), { maxLength: 3 }),
      }),
    },
    { requiredKeys: ["name", "kernel"] },
  );

  type Req = { path: string; type: string; body: Uint8Array; encoding?: string };
  const json = (path: string, value: unknown): Req => ({
    path,
    type: "application/json",
    body: Buffer.from(JSON.stringify(value)),
  });
  const request: fc.Arbitrary<Req> = fc.oneof(
    { weight: 5, arbitrary: spec.map((s) => json(`${SERVICE}/CreateVm`, { spec: s, start: false })) },
    { weight: 3, arbitrary: validSpec.map((s) => json(`${SERVICE}/CreateVm`, { spec: s, start: false })) },
    // Updates of one VM that exists (created before the run), valid or not, dry or not. Valid ones do
    // not grow it past its create's 256 MiB and 1 vCPU (the VMs the run creates fill the node) and
    // keep its placement (which cannot change in place).
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.oneof(
            validSpec.map((s) => ({
              ...s,
              memory: Math.min(s.memory ?? 256, 256),
              vcpus: 1,
              placement: undefined,
            })),
            spec,
          ),
          fc.boolean(),
        )
        .map(([s, dryRun]) => json(`${SERVICE}/UpdateVm`, { spec: { ...s, name: TARGET }, dryRun })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...METHODS), fc.dictionary(word, junk, { maxKeys: 3 }))
        .map(([m, body]) => json(`${SERVICE}/${m}`, body)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...METHODS), fc.uint8Array({ maxLength: 300 }))
        .map(([m, body]) => ({ path: `${SERVICE}/${m}`, type: "application/proto", body })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.webPath(), fc.string({ maxLength: 200 })).map(([p, body]) => ({
        path: p.startsWith("/") ? p : `/${p}`,
        type: "application/json",
        body: Buffer.from(body),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ maxLength: 200 })
        .map((text) => ({ path: `${SERVICE}/CreateVm`, type: "application/json", body: Buffer.from(text) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ maxLength: 200 })
        .map((body) => ({ path: `${SERVICE}/CreateVm`, type: "application/json", encoding: "gzip", body })),
    },
  );

  /** The reply is a valid success or an error a client can act on, naming the field when it is one. */
  function check(req: Req, reply: RawReply): void {
    if (!req.path.startsWith(`${SERVICE}/`) || !METHODS.includes(req.path.slice(SERVICE.length + 1))) {
      // Not a route: a plain protocol answer, never a crash.
      expect([200, 404, 405, 415]).toContain(reply.status);
      return;
    }
    if (reply.status === 200) {
      if (req.path.endsWith("/CreateVm") && req.type === "application/json") {
        const body = JSON.parse(reply.body) as { vm: JsonValue };
        const vm = fromJson(VmSchema, body.vm);
        // What was stored is what the API's schema accepts.
        expect(() => parseVmSpec(specInputFromProto(vm.spec))).not.toThrow();
        created.push(vm.name);
      }
      if (req.path.endsWith("/UpdateVm") && req.type === "application/json") {
        const body = JSON.parse(reply.body) as { vm: JsonValue; changes?: unknown[]; dryRun?: boolean };
        // What is stored after an update is what the API's schema accepts, as after a create.
        expect(() => parseVmSpec(specInputFromProto(fromJson(VmSchema, body.vm).spec))).not.toThrow();
        if (body.changes?.length && !body.dryRun) updated++;
      }
      return;
    }
    const error = JSON.parse(reply.body) as { code?: string; message?: string };
    expect(CLIENT_CODES.has(error.code ?? ""), `unexpected ${reply.status} ${reply.body.slice(0, 300)}`).toBe(
      true,
    );
    expect(error.message ?? "").not.toBe("");
    if (error.code === "invalid_argument" && req.type === "application/json" && isJsonObject(req.body)) {
      // Names what was wrong: a spec field path, a request field, or the JSON key/field it choked on.
      expect(error.message).toMatch(
        /spec[.:]|name:|replicas|field|key "|\(root\)|cannot decode|JSON|tail|limit/,
      );
    }
  }

  const created: string[] = [];
  let updated = 0;

  it("answers every request with a valid success or a named error, and keeps serving", async () => {
    node.ok("vm", "create", TARGET, "--kernel", kernel());
    try {
      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          const reply = await rawRequest(`${node.url}${req.path}`, {
            headers: {
              ...auth,
              "content-type": req.type,
              ...(req.encoding ? { "content-encoding": req.encoding } : {}),
            },
            body: req.body,
          });
          check(req, reply);
        }),
        { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 150_000 },
      );
    } catch (err) {
      process.stderr.write(`api fuzz failed; replay with BLIXARD_FUZZ_SEED=${SEED}\n`);
      throw err;
    }
    process.stderr.write(
      `api fuzz: seed ${SEED}, ${RUNS} requests, ${created.length} VMs created, ${updated} updates\n`,
    );
    // The success branch ran: valid specs were stored and checked, not only refusals.
    expect(created.length).toBeGreaterThan(0);
    expect(updated).toBeGreaterThan(0);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    node.ok("vm", "create", "after-fuzz", "--kernel", kernel());
    expect(node.vm("after-fuzz").spec).toMatchObject({ name: "after-fuzz" });
  }, 240_000);
});

function isJsonObject(body: Uint8Array): boolean {
  try {
    const value: unknown = JSON.parse(Buffer.from(body).toString());
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
