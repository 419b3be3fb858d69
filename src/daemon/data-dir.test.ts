import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultDataDir, ensureDataDir, layout, loadOrCreateNodeId, loadOrCreateToken } from "./data-dir.js";

describe("data dir", () => {
  let root: string;
  beforeEach(() => {
    root = join(mkdtempSync(join(tmpdir(), "blixard-dd-")), "data");
  });
  afterEach(() => rmSync(join(root, ".."), { recursive: true, force: true }));

  it("creates the directory private to its owner", () => {
    ensureDataDir(layout(root));
    expect(statSync(root).mode & 0o777).toBe(0o700);
  });

  it("generates the API token once, with mode 0600", () => {
    const dirs = layout(root);
    ensureDataDir(dirs);
    const token = loadOrCreateToken(dirs);
    expect(token).toMatch(/^blx_admin_[0-9a-f]{64}$/);
    expect(statSync(dirs.tokenFile).mode & 0o777).toBe(0o600);
    expect(loadOrCreateToken(dirs)).toBe(token);
  });

  it("keeps the node id across restarts", () => {
    const dirs = layout(root);
    ensureDataDir(dirs);
    let n = 0;
    const first = loadOrCreateNodeId(dirs, () => `node-${++n}`);
    expect(loadOrCreateNodeId(dirs, () => `node-${++n}`)).toBe(first);
  });

  it("takes the data dir from BLIXARD_DATA_DIR", () => {
    expect(defaultDataDir({ BLIXARD_DATA_DIR: "/srv/blixard" })).toBe("/srv/blixard");
  });
});
