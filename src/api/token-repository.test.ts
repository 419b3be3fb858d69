import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import { cryptoRandom } from "../platform/crypto-random.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { TokenRepository, tokenHash } from "./token-repository.js";

describe("token repository", () => {
  let store: SqliteStore;
  let clock: ManualClock;
  // Two nodes of one cluster: separate repositories (and caches) over the same store.
  let a: TokenRepository;
  let b: TokenRepository;

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    a = new TokenRepository(store, clock, cryptoRandom);
    b = new TokenRepository(store, clock, cryptoRandom);
  });
  afterEach(async () => store.close());

  it("stores only the hash of a secret", async () => {
    const { secret } = await a.create("ci", "operator", 0, "admin");
    const stored = (await store.get(keys.token("ci")))!.value;
    expect(stored).not.toContain(secret.slice(-64));
    expect(JSON.parse(stored).hash).toBe(tokenHash(secret));
  });

  it("refuses a revoked token at once on the revoking node and within a second on the others", async () => {
    const { secret } = await a.create("ci", "operator", 0, "admin");
    expect(await b.verify(secret)).toEqual({ principal: { name: "ci", role: "operator" } });
    await a.revoke("ci");
    expect(await a.verify(secret)).toEqual({ problem: 'token "ci" does not exist or was revoked' });
    clock.advance(1001);
    expect(await b.verify(secret)).toEqual({ problem: 'token "ci" does not exist or was revoked' });
  });

  it("keeps a token it verified before working while the store cannot be read, and refuses unknown ones", async () => {
    const { secret } = await a.create("ci", "operator", 0, "admin");
    const { secret: unseen } = await a.create("other", "viewer", 0, "admin");
    const c = new TokenRepository(store, clock, cryptoRandom);
    expect(await c.verify(secret)).toEqual({ principal: { name: "ci", role: "operator" } });
    const get = store.get.bind(store);
    store.get = async () => {
      throw new Error("etcdserver: request timed out (no quorum)");
    };
    try {
      clock.advance(60_000);
      expect(await c.verify(secret)).toEqual({ principal: { name: "ci", role: "operator" } });
      await expect(c.verify(unseen)).rejects.toThrow(/no quorum/);
    } finally {
      store.get = get;
    }
  });

  it("never lets a cached token outlive its expiry", async () => {
    const { secret } = await a.create("short", "viewer", 10, "admin");
    clock.advance(9_500);
    expect(await a.verify(secret)).toMatchObject({ principal: { name: "short" } });
    clock.advance(600);
    expect(await a.verify(secret)).toMatchObject({ problem: expect.stringMatching(/expired/) });
  });

  it("keeps the first admin token: a node that joins or restarts does not undo a rotation", async () => {
    expect(await a.bootstrapAdmin("first-admin-secret")).toBe(true);
    const { secret } = await a.rotate("admin", "admin");
    expect(await b.bootstrapAdmin("first-admin-secret")).toBe(false);
    expect(await b.verify(secret)).toEqual({ principal: { name: "admin", role: "admin" } });
    // A legacy bare secret (an older data dir) is checked against the admin record.
    expect(await b.verify("first-admin-secret")).toMatchObject({ problem: expect.stringMatching(/rotated/) });
  });

  it("lets a node that restores a backup take the admin token over, keeping the other tokens", async () => {
    await a.bootstrapAdmin("old-cluster-admin");
    const { secret: ci } = await a.create("ci", "operator", 0, "admin");
    const restored = new TokenRepository(store, clock, cryptoRandom);
    expect(await restored.bootstrapAdmin("new-node-admin", { replace: true })).toBe(true);
    expect(await restored.verify("old-cluster-admin")).toMatchObject({
      problem: expect.stringMatching(/rotated/),
    });
    expect(await restored.verify(ci)).toEqual({ principal: { name: "ci", role: "operator" } });
  });
});
