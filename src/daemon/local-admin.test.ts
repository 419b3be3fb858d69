import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TokenRepository } from "../api/token-repository.js";
import { cryptoRandom } from "../platform/crypto-random.js";
import type { Logger } from "../ports/logger.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { settleLocalAdminToken } from "./local-admin.js";

describe("the node's own admin token", () => {
  let store: SqliteStore;
  let tokens: TokenRepository;
  let dir: string;
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn(_fields, message) {
      warnings.push(message);
    },
    error() {},
    child() {
      return logger;
    },
  };
  const settle = (nodeId: string, token: string, fresh: boolean, restoring = false) =>
    settleLocalAdminToken({
      tokens,
      nodeId,
      token,
      tokenFile: join(dir, `${nodeId}.token`),
      fresh,
      restoring,
      logger,
    });

  beforeEach(async () => {
    const clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    tokens = new TokenRepository(store, clock, cryptoRandom);
    dir = mkdtempSync(join(tmpdir(), "blixard-local-admin-"));
    warnings.length = 0;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("makes the first node's token the cluster's admin token", async () => {
    await settle("node-a", "blx_admin_".concat("a".repeat(64)), true);
    expect(await tokens.verify(`blx_admin_${"a".repeat(64)}`)).toEqual({
      principal: { name: "admin", role: "admin" },
    });
  });

  it("gives a fresh node on a store that has an admin token one of its own, written to its file", async () => {
    await settle("node-a", `blx_admin_${"a".repeat(64)}`, true);
    await settle("node-b", `blx_admin_${"b".repeat(64)}`, true);
    const written = readFileSync(join(dir, "node-b.token"), "utf8").trim();
    expect(written).toMatch(/^blx_node-b_[0-9a-f]{64}$/);
    expect(await tokens.verify(written)).toEqual({ principal: { name: "node-b", role: "admin" } });
    // Its own random secret never became a credential.
    expect(await tokens.verify(`blx_admin_${"b".repeat(64)}`)).toHaveProperty("problem");
  });

  it("never recreates a revoked token on a restart: the attack of undoing a revocation by restarting", async () => {
    await settle("node-a", `blx_admin_${"a".repeat(64)}`, true);
    await settle("node-b", `blx_admin_${"b".repeat(64)}`, true);
    const own = readFileSync(join(dir, "node-b.token"), "utf8").trim();
    await tokens.revoke("node-b");
    await settle("node-b", own, false);
    expect((await tokens.list()).map((t) => t.name)).toEqual(["admin"]);
    expect(warnings).toEqual([expect.stringMatching(/rotated or revoked/)]);
  });

  it("lets a node that restores a backup take the admin token over", async () => {
    await settle("old", `blx_admin_${"a".repeat(64)}`, true);
    await settle("new", `blx_admin_${"c".repeat(64)}`, true, true);
    expect(await tokens.verify(`blx_admin_${"c".repeat(64)}`)).toEqual({
      principal: { name: "admin", role: "admin" },
    });
    expect((await tokens.list()).map((t) => t.name)).toEqual(["admin"]);
  });
});
