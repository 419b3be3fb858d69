import { describe, expect, it } from "vitest";
import { parseJoinToken } from "../core/join-token.js";
import { keys } from "../core/keys.js";
import { SeededRandom } from "../sim/seeded-random.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { JoinTokens } from "./join-tokens.js";

function setup() {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const tokens = new JoinTokens(store, clock, new SeededRandom(3), () => "cd".repeat(32));
  return { clock, store, tokens };
}

const presented = (token: string) => {
  const t = parseJoinToken(token);
  return `${t.id}.${t.secret}`;
};

describe("join tokens", () => {
  it("lets exactly one of two joins racing with the same one-time token in", async () => {
    const { tokens } = setup();
    const { token } = await tokens.create();
    const results = await Promise.all([tokens.redeem(presented(token)), tokens.redeem(presented(token))]);
    expect(results.filter((r) => r !== false)).toHaveLength(1);
  });

  it("stores a hash, never the secret: a store reader cannot rebuild a token", async () => {
    const { tokens, store } = setup();
    const { token } = await tokens.create({ reusable: true });
    const secret = parseJoinToken(token).secret;
    const { kvs } = await store.range(keys.joinTokensPrefix);
    expect(kvs).toHaveLength(1);
    expect(kvs[0]!.value).not.toContain(secret);
  });

  it("refuses a token once its TTL has passed, and drops it from the list", async () => {
    const { tokens, clock } = setup();
    const { token } = await tokens.create({ ttlSeconds: 60, reusable: true });
    expect(await tokens.redeem(presented(token))).not.toBe(false);
    clock.advance(60_000);
    expect(await tokens.redeem(presented(token))).toBe(false);
    expect(await tokens.list()).toEqual([]);
  });

  it("refuses malformed presentations without touching the store's records", async () => {
    const { tokens } = setup();
    await tokens.create({ reusable: true });
    for (const bad of ["", ".", "nodot", "UPPER.secret", "../../x.secret"]) {
      expect(await tokens.redeem(bad)).toBe(false);
    }
    expect(await tokens.list()).toHaveLength(1);
  });
});
