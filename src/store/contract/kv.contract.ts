/** Contract: reading and writing single keys, prefix ranges, and how revisions move. */
import { describe, expect, it } from "vitest";
import { type ContractContext, expectCode } from "./context.contract.js";

export function kvContract(c: ContractContext): void {
  describe("keys and revisions", () => {
    it("returns undefined for a key that was never written", async () => {
      expect(await c.store.get("/never")).toBeUndefined();
    });

    it("gives a new key version 1 and the write's revision as its create and mod revision", async () => {
      const before = await c.store.revision();
      const rev = await c.store.put("/k", "v1");
      expect(rev).toBe(before + 1);
      expect(await c.store.get("/k")).toEqual({
        key: "/k",
        value: "v1",
        createRevision: rev,
        modRevision: rev,
        version: 1,
        lease: 0,
      });
      expect(await c.store.revision()).toBe(rev);
    });

    it("keeps the create revision and counts versions when a key is overwritten", async () => {
      const created = await c.store.put("/k", "v1");
      await c.store.put("/k", "v2");
      const last = await c.store.put("/k", "v3");
      expect(await c.store.get("/k")).toMatchObject({
        value: "v3",
        createRevision: created,
        modRevision: last,
        version: 3,
      });
    });

    it("advances the store revision by exactly one per write, whichever key it touches", async () => {
      const before = await c.store.revision();
      await c.store.put("/a", "1");
      await c.store.put("/b", "1");
      await c.store.put("/a", "2");
      expect(await c.store.delete("/b")).toBe(1);
      expect(await c.store.revision()).toBe(before + 4);
    });

    it("deletes a key and starts it afresh at version 1 when it is written again", async () => {
      await c.store.put("/k", "old");
      await c.store.put("/k", "old2");
      const deletedAt = await c.store.revision();
      expect(await c.store.delete("/k")).toBe(1);
      expect(await c.store.revision()).toBe(deletedAt + 1);
      expect(await c.store.get("/k")).toBeUndefined();
      const recreated = await c.store.put("/k", "new");
      expect(await c.store.get("/k")).toMatchObject({ createRevision: recreated, version: 1, value: "new" });
    });

    it("returns 0 and takes no revision when deleting a missing key", async () => {
      const before = await c.store.revision();
      expect(await c.store.delete("/missing")).toBe(0);
      expect(await c.store.revision()).toBe(before);
    });

    it("stores values exactly, including empty, multi-line and non-ASCII text", async () => {
      for (const value of ["", "line 1\nline 2\n", "ünïcødé ✓ 😀", '{"json":true}']) {
        await c.store.put("/v", value);
        expect((await c.store.get("/v"))?.value).toBe(value);
      }
    });

    it("rejects an empty key with INVALID_ARGUMENT", async () => {
      await expectCode(c.store.put("", "v"), "INVALID_ARGUMENT");
    });
  });

  describe("prefix ranges", () => {
    it("returns the keys under a prefix sorted by key, read at the current revision", async () => {
      for (const key of ["/r/c", "/r/a", "/r/b/deep", "/r/b"]) await c.store.put(key, key);
      const result = await c.store.range("/r/");
      expect(result.kvs.map((kv) => kv.key)).toEqual(["/r/a", "/r/b", "/r/b/deep", "/r/c"]);
      expect(result.kvs.map((kv) => kv.value)).toEqual(["/r/a", "/r/b", "/r/b/deep", "/r/c"]);
      expect(result.revision).toBe(await c.store.revision());
    });

    it("does not match sibling keys that merely start with the same characters", async () => {
      for (const key of ["/a", "/a/", "/a/x", "/ab", "/ab/x", "/a0", "/b/x"]) await c.store.put(key, "v");
      const result = await c.store.range("/a/");
      expect(result.kvs.map((kv) => kv.key)).toEqual(["/a/", "/a/x"]);
    });

    it("returns the first keys in key order when given a limit, saying that more follow", async () => {
      for (const key of ["/l/4", "/l/2", "/l/5", "/l/1", "/l/3"]) await c.store.put(key, "v");
      const result = await c.store.range("/l/", { limit: 2 });
      expect(result.kvs.map((kv) => kv.key)).toEqual(["/l/1", "/l/2"]);
      expect(result.more).toBe(true);
      expect((await c.store.range("/l/", { limit: 4 })).more).toBe(true);
    });

    it("says no more follow when the limit did not cut the result", async () => {
      for (const key of ["/l/1", "/l/2", "/l/3"]) await c.store.put(key, "v");
      await c.store.put("/m", "v");
      const exact = await c.store.range("/l/", { limit: 3 });
      expect(exact.kvs).toHaveLength(3);
      expect(exact.more).toBe(false);
      expect((await c.store.range("/l/", { limit: 10 })).more).toBe(false);
      expect((await c.store.range("/l/")).more).toBe(false);
    });

    it("returns an empty list, with the revision, when nothing matches", async () => {
      await c.store.put("/x", "v");
      const result = await c.store.range("/nothing/");
      expect(result).toEqual({ kvs: [], revision: await c.store.revision(), more: false });
    });

    it("returns every key for the empty prefix", async () => {
      await c.store.put("/z", "v");
      await c.store.put("/y", "v");
      expect((await c.store.range("")).kvs.map((kv) => kv.key)).toEqual(["/y", "/z"]);
    });

    it("sorts keys by their UTF-8 bytes, as etcd does, also under a non-ASCII prefix", async () => {
      // UTF-16 order would put the emoji (a surrogate pair) before U+FFFD; byte order puts it after.
      const keys = ["/u/😀", "/u/\uFFFD", "/u/é", "/u/z", "/u/B", "/u/é/x", "/u/éa"];
      for (const key of keys) await c.store.put(key, "v");
      await c.store.put("/u/ê", "v");
      expect((await c.store.range("/u/")).kvs.map((kv) => kv.key)).toEqual([
        "/u/B",
        "/u/z",
        "/u/é",
        "/u/é/x",
        "/u/éa",
        "/u/ê",
        "/u/\uFFFD",
        "/u/😀",
      ]);
      expect((await c.store.range("/u/é")).kvs.map((kv) => kv.key)).toEqual(["/u/é", "/u/é/x", "/u/éa"]);
      expect((await c.store.range("/u/😀")).kvs.map((kv) => kv.key)).toEqual(["/u/😀"]);
    });
  });
}
