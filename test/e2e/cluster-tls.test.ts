/**
 * A two-node cluster whose APIs bind the wildcard address, so that every request needs a credential:
 * the joiner has none but its join token (Join and /cacerts are public, the token authenticates), and
 * console logs routed between the nodes are authorised by the node certificate over mutual TLS alone,
 * never by a user token (each node has its own, which the other does not know).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFrom, idOf, image, TestNode, until } from "./harness.js";

describe("a cluster on wildcard binds: joins and node-to-node calls without a shared secret", () => {
  let a: TestNode;
  let b: TestNode;

  beforeAll(async () => {
    a = await TestNode.start(["--cluster-init", "--bind-all", "--advertise-host", "127.0.0.1"], {
      portSpan: 3,
    });
    b = await TestNode.start(
      [
        "--join",
        `127.0.0.1:${a.port}`,
        "--token",
        // A one-time join token from `token create --join` (the same as `cluster token create`).
        a.ok("token", "create", "--join", "--ttl", "10m").trim(),
        "--bind-all",
        "--advertise-host",
        "127.0.0.1",
      ],
      { portSpan: 3 },
    );
  });
  afterAll(async () => {
    await b?.destroy();
    await a?.destroy();
  });

  it("joins without a user credential, and the nodes hold different API tokens", async () => {
    const tokenOf = (n: TestNode) => readFileSync(join(n.dataDir, "token"), "utf8").trim();
    expect(tokenOf(a)).not.toBe(tokenOf(b));
    const nodes = JSON.parse(a.ok("node", "list", "-o", "json")) as { id: string; state: string }[];
    expect(nodes.map((n) => n.id).sort()).toEqual([idOf(a), idOf(b)].sort());
    // Still closed to an unauthenticated user on the same port.
    expect((await getFrom(a, "/metrics")).status).toBe(401);
  });

  it("fetches a VM's console from the node that runs it with the node certificate alone", async () => {
    a.ok(
      "vm",
      "create",
      "tls-web",
      "--kernel",
      image().kernel,
      "--initrd",
      image().initrd,
      "--node",
      idOf(b),
      "--start",
    );
    await until("tls-web to run on b", () => (b.vm("tls-web").status.phase === "Running" ? true : undefined));
    const logs = await until("the console through a", () => {
      const out = a.cli("vm", "logs", "tls-web", "--tail", "all");
      return out.code === 0 && /Linux version/.test(out.stdout) ? out.stdout : undefined;
    });
    expect(logs).toMatch(/Linux version/);
    a.ok("vm", "delete", "tls-web");
  });
});
