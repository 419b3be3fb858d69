import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFrom, TestNode } from "./harness.js";

// Binds to the wildcard address (so the token is required) but only ever talks to it over loopback.
describe("API token on a non-loopback bind", () => {
  let node: TestNode;
  let token: string;

  beforeAll(async () => {
    node = await TestNode.start(["--bind-all"]);
    token = readFileSync(join(node.dataDir, "token"), "utf8").trim();
  });
  afterAll(async () => node?.destroy());

  it("writes the token with mode 0600", () => {
    expect(statSync(join(node.dataDir, "token")).mode & 0o777).toBe(0o600);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
  });

  it("rejects a client without the token, with a hint", () => {
    const res = node.cli("--data-dir", "/nonexistent", "vm", "list");
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/^error: the node at .* rejected our token: set BLIXARD_TOKEN/);
  });

  it("accepts the token from BLIXARD_TOKEN and from the data dir", () => {
    expect(node.cliEnv({ BLIXARD_TOKEN: token, BLIXARD_DATA_DIR: "/nonexistent" }, "vm", "list").code).toBe(
      0,
    );
    expect(node.cli("vm", "list").code).toBe(0);
  });

  it("keeps /healthz open and guards /metrics", async () => {
    expect((await getFrom(node, "/healthz")).status).toBe(200);
    expect((await getFrom(node, "/metrics")).status).toBe(401);
    const res = await getFrom(node, "/metrics", { authorization: `Bearer ${token}` });
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
