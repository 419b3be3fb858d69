import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { accessOf, decide, POLICY } from "./policy.js";
import { ROLES } from "./roles.js";

/** Every RPC of every service in the generated descriptors, as `/<package.Service>/<Method>`. */
async function generatedRpcs(): Promise<string[]> {
  const dir = new URL("../gen/blixard/v1/", import.meta.url);
  const paths: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith("_pb.ts"))) {
    const mod = (await import(new URL(file, dir).href)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      const svc = value as { kind?: string; typeName?: string; methods?: { name: string }[] };
      if (svc?.kind !== "service") continue;
      for (const m of svc.methods ?? []) paths.push(`/${svc.typeName}/${m.name}`);
    }
  }
  return paths.sort();
}

describe("the policy table", () => {
  it("has an entry for every RPC in the proto, and none for RPCs that do not exist", async () => {
    const rpcs = await generatedRpcs();
    expect(rpcs.length).toBeGreaterThan(20);
    // A new RPC without a policy entry would be unreachable (denied by default); this says which.
    expect(rpcs.filter((p) => accessOf(p) === undefined)).toEqual([]);
    const listed = Object.keys(POLICY).filter((p) => p.split("/").length === 3);
    expect(listed.filter((p) => !rpcs.includes(p))).toEqual([]);
  });

  it("serves only /healthz, the CA certificate and Join (authenticated by its join token) without a credential", () => {
    const open = Object.entries(POLICY).filter(([, access]) => access === "public");
    expect(open.map(([path]) => path)).toEqual(["/healthz", "/cacerts", "/blixard.v1.ClusterService/Join"]);
    expect(decide("/blixard.v1.VmService/ListVms", undefined)).toMatchObject({
      allow: false,
      status: "unauthenticated",
    });
  });

  it("denies RPCs it does not know, even to an admin", () => {
    expect(decide("/blixard.v1.VmService/Evil", { name: "root", role: "admin" })).toMatchObject({
      allow: false,
      status: "denied",
    });
    // A key inherited from Object.prototype is not an entry.
    expect(accessOf("constructor")).toBeUndefined();
  });

  it("orders roles: each may do what the roles below it may", () => {
    for (const [path, access] of Object.entries(POLICY)) {
      if (access === "public") continue;
      const allowed = ROLES.filter((role) => decide(path, { name: "t", role }).allow);
      expect(allowed, path).toEqual(ROLES.slice(ROLES.indexOf(access)));
    }
  });

  it("keeps node, cluster and token operations admin-only and reads viewer-level", () => {
    expect(accessOf("/blixard.v1.ClusterService/Backup")).toBe("admin");
    expect(accessOf("/blixard.v1.NodeService/DrainNode")).toBe("admin");
    expect(accessOf("/blixard.v1.TokenService/CreateToken")).toBe("admin");
    expect(accessOf("/blixard.v1.VmService/FollowVmLogs")).toBe("viewer");
    expect(decide("/blixard.v1.VmService/CreateVm", { name: "ro", role: "viewer" })).toEqual({
      allow: false,
      status: "denied",
      message:
        'permission denied: /blixard.v1.VmService/CreateVm needs the operator role; token "ro" has viewer',
    });
  });
});
