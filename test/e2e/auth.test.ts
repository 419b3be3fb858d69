import { readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFrom, TestNode } from "./harness.js";

/** A raw request with headers fetch() will not send (Host), as a DNS-rebinding page's browser would. */
function rawStatus(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

// A node on loopback, the default: loopback is not trusted (qemu user networking maps a guest's
// 10.0.2.2 to the host's loopback, and any local user can connect to it).
describe("authentication on a loopback node", () => {
  let node: TestNode;
  let token: string;

  beforeAll(async () => {
    node = await TestNode.start();
    token = node.adminToken();
  });
  afterAll(async () => node?.destroy());

  it("writes the admin token with mode 0600, named admin", () => {
    expect(statSync(join(node.dataDir, "token")).mode & 0o777).toBe(0o600);
    expect(token).toMatch(/^blx_admin_[0-9a-f]{64}$/);
  });

  it("refuses unauthenticated loopback requests with 401 (the guest-through-10.0.2.2 attack)", async () => {
    const res = await fetch(`${node.url}/blixard.v1.NodeService/ListNodes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect((await fetch(`${node.url}/blixard.v1.ClusterService/Backup`, { method: "POST" })).status).toBe(
      401,
    );
    expect((await fetch(`${node.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });

  it("lets the local CLI in with nothing but the data dir, and rejects one without a token", () => {
    expect(node.cli("vm", "list").code).toBe(0);
    const res = node.cli("--data-dir", "/nonexistent", "vm", "list");
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/^error: the node at .* rejected our token: set BLIXARD_TOKEN/);
  });

  it("accepts the token from BLIXARD_TOKEN and from --token-file", () => {
    expect(node.cliEnv({ BLIXARD_TOKEN: token, BLIXARD_DATA_DIR: "/nonexistent" }, "vm", "list").code).toBe(
      0,
    );
    const file = join(node.dataDir, "token");
    expect(node.cliEnv({ BLIXARD_DATA_DIR: "/nonexistent" }, "--token-file", file, "vm", "list").code).toBe(
      0,
    );
  });

  it("refuses a request naming another host, even with the token (DNS rebinding)", async () => {
    const url = `${node.url}/metrics`;
    const evil = await rawStatus(url, {
      host: `attacker.example:${node.port}`,
      authorization: `Bearer ${token}`,
    });
    expect(evil.status).toBe(421);
    expect(evil.body).toContain("DNS rebinding");
    expect((await rawStatus(url, { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it("refuses cross-origin browser requests", async () => {
    const headers = { authorization: `Bearer ${token}` };
    const url = `${node.url}/metrics`;
    expect((await fetch(url, { headers: { ...headers, origin: "https://evil.example" } })).status).toBe(403);
    expect((await fetch(url, { headers: { ...headers, "sec-fetch-site": "cross-site" } })).status).toBe(403);
  });

  it("refuses expired and revoked tokens, saying which", async () => {
    const short = node.ok("token", "create", "short", "--role", "viewer", "--ttl", "1s").trim();
    const revoked = node.ok("token", "create", "gone", "--role", "viewer").trim();
    expect(node.cliEnv({ BLIXARD_TOKEN: revoked }, "vm", "list").code).toBe(0);
    expect(node.ok("token", "revoke", "gone")).toContain('revoked token "gone"');
    await new Promise((r) => setTimeout(r, 1500));
    const expired = node.cliEnv({ BLIXARD_TOKEN: short }, "vm", "list");
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toMatch(/token "short" expired at/);
    const gone = node.cliEnv({ BLIXARD_TOKEN: revoked }, "vm", "list");
    expect(gone.stderr).toMatch(/token "gone" does not exist or was revoked/);
    const list = JSON.parse(node.ok("token", "list", "-o", "json")) as { name: string }[];
    expect(list.map((t) => t.name)).toEqual(["admin", "short"]);
    expect(node.ok("token", "list", "-o", "yaml")).not.toMatch(/blx_/);
  });

  it("rotates the admin token: the node's token file gets the new one, the old one is refused", () => {
    const before = node.adminToken();
    expect(node.ok("token", "rotate", "admin")).toContain(
      `wrote the new secret to ${join(node.dataDir, "token")}`,
    );
    const after = node.adminToken();
    expect(after).not.toBe(before);
    expect(statSync(join(node.dataDir, "token")).mode & 0o777).toBe(0o600);
    expect(node.cli("vm", "list").code).toBe(0);
    expect(node.cliEnv({ BLIXARD_TOKEN: before }, "vm", "list").stderr).toMatch(/rotated or revoked/);
    // From elsewhere (a token not read from the data dir), the new secret is printed instead.
    const printed = node.cliEnv({ BLIXARD_TOKEN: after }, "token", "rotate", "admin").stdout.trim();
    expect(printed).toMatch(/^blx_admin_[0-9a-f]{64}$/);
    expect(readFileSync(join(node.dataDir, "token"), "utf8").trim()).toBe(after);
    expect(node.cli("vm", "list").code).not.toBe(0);
    expect(node.cliEnv({ BLIXARD_TOKEN: printed }, "vm", "list").code).toBe(0);
  });
});

// Binds to the wildcard address but only ever talks to it over loopback.
describe("authentication on a non-loopback bind", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.start(["--bind-all"]);
  });
  afterAll(async () => node?.destroy());

  it("keeps /healthz open and guards /metrics", async () => {
    expect((await getFrom(node, "/healthz")).status).toBe(200);
    expect((await getFrom(node, "/metrics")).status).toBe(401);
    const res = await getFrom(node, "/metrics", { authorization: `Bearer ${node.adminToken()}` });
    expect(res.body).toContain("blixard_vms");
  });

  it("serves only TLS beyond loopback, with a certificate from the node's own CA", async () => {
    expect(node.url).toMatch(/^https:/);
    // The token would cross the network in the clear over plain HTTP: no answer there.
    await expect(fetch(`http://127.0.0.1:${node.port}/healthz`)).rejects.toThrow();
    // A CLI without the CA refuses the unverified certificate and says what to do.
    const res = node.cliEnv({ BLIXARD_CA_FILE: "", BLIXARD_DATA_DIR: "/nonexistent" }, "vm", "list");
    expect(res.stderr).toMatch(/cannot verify the TLS certificate .* --ca-file/);
  });
});
