/**
 * `blixard service ...` and `kind: Service` in `apply -f` against a running node: the objects, their
 * addresses and host ports, the roles, and the errors a user sees. (The load balancing itself is
 * src/net/services/service-proxy.integration.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestNode } from "./harness.js";

interface ServiceJson {
  name: string;
  address: string;
  spec: { port: number; targetPort: number; group: string; protocol: string; hostPort: number | null };
  members: unknown[];
}

describe("services through the CLI", () => {
  let node: TestNode;
  let dir: string;

  beforeAll(async () => {
    node = await TestNode.start();
    dir = mkdtempSync(join(tmpdir(), "blixard-services-"));
  });
  afterAll(async () => {
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates, shows, lists and deletes a service with an address from the service range", () => {
    const created = JSON.parse(
      node.ok(
        "service",
        "create",
        "web",
        "--port",
        "80",
        "--target-port",
        "8080",
        "--group",
        "web",
        "--host-port",
        "30080",
        "-o",
        "json",
      ),
    ) as ServiceJson;
    expect(created.address).toMatch(/^10\.89\.\d+\.\d+$/);
    expect(created.spec).toEqual({
      port: 80,
      targetPort: 8080,
      group: "web",
      protocol: "tcp",
      hostPort: 30080,
    });
    expect(created.members).toEqual([]);
    expect(node.ok("service", "list")).toMatch(/web\s+10\.89\.\S+\s+80\/tcp\s+8080\s+30080\s+web\s+0/);
    expect(node.ok("service", "get", "web")).toContain(
      "none (no running, healthy bridge-mode VM in the group)",
    );

    // The host port is claimed cluster-wide: a second service cannot take it.
    const taken = node.cli(
      "service",
      "create",
      "api",
      "--port",
      "80",
      "--target-port",
      "80",
      "--group",
      "api",
      "--host-port",
      "30080",
    );
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(
      /spec.hostPort: host port 30080\/tcp is already the host port of service "web"/,
    );

    expect(node.ok("service", "delete", "web")).toBe("service/web deleted\n");
    expect(JSON.parse(node.ok("service", "list", "-o", "json"))).toEqual([]);
    // Released with it: the port can be used again.
    node.ok(
      "service",
      "create",
      "api",
      "--port",
      "80",
      "--target-port",
      "80",
      "--group",
      "api",
      "--host-port",
      "30080",
    );
    node.ok("service", "delete", "api");
  });

  it("names the field and the fix for a host port below 1024 (a service shadowing sshd on every node)", () => {
    const res = node.cli(
      "service",
      "create",
      "ssh",
      "--port",
      "22",
      "--target-port",
      "22",
      "--group",
      "g",
      "--host-port",
      "22",
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/spec.hostPort: must be at least 1024/);
    expect(JSON.parse(node.ok("service", "list", "-o", "json"))).toEqual([]);
  });

  it("refuses the node's own API port as a host port (its control traffic handed to VMs)", () => {
    const apiPort = new URL(node.url).port;
    const args = ["service", "create", "grab", "--port", "80", "--target-port", "80", "--group", "g"];
    const res = node.cli(...args, "--host-port", apiPort);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`spec.hostPort: port ${apiPort} is .*API port`));
    expect(JSON.parse(node.ok("service", "list", "-o", "json"))).toEqual([]);
  });

  it("refuses a viewer token that tries to publish a service", () => {
    const viewer = node.ok("token", "create", "svc-viewer", "--role", "viewer").trim();
    const res = node.cliEnv(
      { BLIXARD_TOKEN: viewer },
      "service",
      "create",
      "x",
      "--port",
      "1",
      "--target-port",
      "1",
      "--group",
      "g",
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/needs the operator role/);
    expect(node.cliEnv({ BLIXARD_TOKEN: viewer }, "service", "list").code).toBe(0);
  });

  it("applies kind: Service documents: created once, then unchanged, and a changed one is refused", () => {
    const file = join(dir, "svc.yaml");
    writeFileSync(file, "kind: Service\nname: front\nport: 443\ntargetPort: 8443\ngroup: front\n");
    expect(node.ok("apply", "-f", file)).toBe("service/front created\n");
    expect(node.ok("apply", "-f", file)).toBe("service/front unchanged\n");
    writeFileSync(file, "kind: Service\nname: front\nport: 443\ntargetPort: 9443\ngroup: front\n");
    const changed = node.cli("apply", "-f", file);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/service\/front failed: .*targetPort.*delete it/);
    writeFileSync(file, "kind: Service\nname: bad\nport: 443\ntargetPort: 8443\ngroup: front\nextra: 1\n");
    const bad = node.cli("apply", "-f", file);
    expect(bad.stderr).toMatch(/document 1 of .*svc.yaml: invalid service spec: spec: Unrecognized key/);
    node.ok("service", "delete", "front");
  });
});
