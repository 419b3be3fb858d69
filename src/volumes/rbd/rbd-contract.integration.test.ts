/**
 * vol15's VolumeBackend contract (volumes/volume-backend.contract.ts) run against the RBD backend on
 * a throwaway Ceph, started once for the file: the same cases the local backend passes.
 */
import { afterAll } from "vitest";
import { cephSkipReason, startTestCeph, type TestCeph } from "../../testing/ceph.js";
import { runVolumeBackendContract } from "../volume-backend.contract.js";
import { RbdBackend } from "./rbd-backend.js";

const skip = cephSkipReason();
let ceph: Promise<TestCeph> | undefined;
let next = 0;

afterAll(async () => {
  if (ceph) await (await ceph).stop();
}, 60_000);

if (skip === undefined) {
  runVolumeBackendContract("rbd", async () => {
    ceph ??= startTestCeph();
    const c = await ceph;
    const backend = new RbdBackend({
      confPath: c.confPath,
      user: c.user,
      keyringPath: c.keyringPath,
      defaultPool: c.pool,
    });
    const made: { backend: "rbd"; pool: string; image: string }[] = [];
    return {
      backend,
      location: () => {
        const at = {
          backend: "rbd" as const,
          pool: c.pool,
          image: `blixard-vol-${(++next).toString(16).padStart(16, "0")}`,
        };
        made.push(at);
        return at;
      },
      cleanup: async () => {
        for (const at of made) await backend.remove(at);
      },
    };
  });
} else {
  const { describe, it } = await import("vitest");
  describe(`VolumeBackend contract: rbd (skipped: ${skip})`, () => {
    it.skip("needs a throwaway Ceph", () => undefined);
  });
}
