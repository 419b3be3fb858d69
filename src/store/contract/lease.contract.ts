/**
 * Contract: leases keep keys alive only while kept alive. TTLs are at least 2 s because etcd raises
 * shorter ones to its minimum, and expiry is awaited with `eventually` because etcd notices it late.
 */
import { describe, expect, it } from "vitest";
import { type ContractContext, eventually, expectCode, watchFromNow } from "./context.contract.js";

const TTL_SECONDS = 2;
const UNKNOWN_LEASE = 987_654_321;

export function leaseContract(c: ContractContext): void {
  const gone = (key: string) => async () => (await c.store.get(key)) === undefined;

  describe("leases", () => {
    it("grants leases with distinct ids and at least the requested TTL", async () => {
      const a = await c.store.grantLease(TTL_SECONDS);
      const b = await c.store.grantLease(5);
      expect(a.id).not.toBe(b.id);
      for (const lease of [a, b]) {
        expect(Number.isSafeInteger(lease.id) && lease.id > 0, `lease id ${lease.id}`).toBe(true);
      }
      expect(a.ttlSeconds).toBeGreaterThanOrEqual(TTL_SECONDS);
      expect(b.ttlSeconds).toBeGreaterThanOrEqual(5);
    });

    it("binds a key put with a lease to that lease", async () => {
      const lease = await c.store.grantLease(TTL_SECONDS);
      await c.store.put("/l/k", "v", { lease: lease.id });
      expect((await c.store.get("/l/k"))?.lease).toBe(lease.id);
    });

    it("keeps bound keys past the TTL while the lease is kept alive", async () => {
      const lease = await c.store.grantLease(3);
      await c.store.put("/l/k", "v", { lease: lease.id });
      await c.passTime(2000);
      await c.store.keepAlive(lease.id);
      await c.passTime(2000);
      expect((await c.store.get("/l/k"))?.value).toBe("v");
    });

    it("deletes the bound keys, and only those, when the lease expires, telling watchers", async () => {
      const lease = await c.store.grantLease(TTL_SECONDS);
      await c.store.put("/l/bound-1", "a", { lease: lease.id });
      await c.store.put("/l/bound-2", "b", { lease: lease.id });
      await c.store.put("/l/free", "c");
      const reader = await watchFromNow(c, "/l/");
      await c.passTime(TTL_SECONDS * 1000);
      await eventually(c, gone("/l/bound-1"), "the leased key is deleted");
      expect(await c.store.get("/l/bound-2")).toBeUndefined();
      expect((await c.store.get("/l/free"))?.value).toBe("c");
      const events = await reader.events(2);
      expect(events.map((e) => [e.type, e.kv.key, e.prevKv?.value])).toEqual([
        ["delete", "/l/bound-1", "a"],
        ["delete", "/l/bound-2", "b"],
      ]);
      reader.close();
    });

    it("fails keepAlive with LEASE_NOT_FOUND once the lease has expired", async () => {
      const lease = await c.store.grantLease(TTL_SECONDS);
      await c.store.put("/l/k", "v", { lease: lease.id });
      await c.passTime(TTL_SECONDS * 1000);
      await eventually(c, gone("/l/k"), "the lease expires");
      await expectCode(c.store.keepAlive(lease.id), "LEASE_NOT_FOUND");
      await expectCode(c.store.put("/l/k", "v", { lease: lease.id }), "LEASE_NOT_FOUND");
    });

    it("deletes every bound key at one revision when the lease is revoked", async () => {
      const lease = await c.store.grantLease(60);
      await c.store.put("/l/a", "v", { lease: lease.id });
      await c.store.put("/l/b", "v", { lease: lease.id });
      const before = await c.store.revision();
      await c.store.revokeLease(lease.id);
      expect((await c.store.range("/l/")).kvs).toEqual([]);
      expect(await c.store.revision()).toBe(before + 1);
      await expectCode(c.store.keepAlive(lease.id), "LEASE_NOT_FOUND");
    });

    it("fails keepAlive, revoke and put with LEASE_NOT_FOUND for a lease never granted", async () => {
      const before = await c.store.revision();
      await expectCode(c.store.keepAlive(UNKNOWN_LEASE), "LEASE_NOT_FOUND");
      await expectCode(c.store.revokeLease(UNKNOWN_LEASE), "LEASE_NOT_FOUND");
      await expectCode(c.store.put("/l/k", "v", { lease: UNKNOWN_LEASE }), "LEASE_NOT_FOUND");
      expect(await c.store.get("/l/k")).toBeUndefined();
      expect(await c.store.revision()).toBe(before);
    });

    it("detaches a key from its lease when it is put again without one", async () => {
      const lease = await c.store.grantLease(TTL_SECONDS);
      await c.store.put("/l/k", "leased", { lease: lease.id });
      await c.store.put("/l/k", "free");
      await c.store.put("/l/marker", "v", { lease: lease.id });
      await c.passTime(TTL_SECONDS * 1000);
      await eventually(c, gone("/l/marker"), "the lease expires");
      expect(await c.store.get("/l/k")).toMatchObject({ value: "free", lease: 0 });
    });
  });
}
