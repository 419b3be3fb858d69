import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import { systemClock } from "../platform/system-clock.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { refuseEmptyStoreWithVms } from "./empty-store-guard.js";

describe("empty store guard", () => {
  let root: string;
  let vmsDir: string;
  let store: SqliteStore | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "blixard-empty-store-"));
    vmsDir = join(root, "vms");
    mkdirSync(join(vmsDir, "web"), { recursive: true });
    writeFileSync(join(vmsDir, "web", "disk.qcow2"), "guest data");
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  // The accident it stops: store.db truncated to zero bytes (a full disk, a bad restore) was taken as a
  // new store, every VM became an orphan, and every VM's disk was deleted.
  it("refuses a zero-length store.db while vms/ holds state, naming the VMs and the override", async () => {
    writeFileSync(join(root, "store.db"), "");
    store = await SqliteStore.open({ path: join(root, "store.db"), clock: systemClock });
    await expect(refuseEmptyStoreWithVms(store, vmsDir, false)).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
      message: expect.stringMatching(
        /the store holds no VM, but .* holds the state of 1 \(web\).*--accept-empty-store/,
      ),
    });
  });

  it("starts with --accept-empty-store, with a store that has VMs, or with no local state", async () => {
    store = await SqliteStore.open({ path: join(root, "store.db"), clock: systemClock });
    await refuseEmptyStoreWithVms(store, vmsDir, true);
    await refuseEmptyStoreWithVms(store, join(root, "no-vms"), false);
    await store.put(keys.vm("other"), "{}");
    await refuseEmptyStoreWithVms(store, vmsDir, false);
  });
});
