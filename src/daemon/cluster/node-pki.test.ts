import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pkiLayout } from "../../pki/pki-files.js";
import { MemoryStore } from "../../store/memory/memory-store.js";
import { ManualClock } from "../../testing/manual-clock.js";
import { standaloneNodePki } from "./node-pki.js";

describe("the PKI of nodes without a managed member", () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "blixard-node-pki-"));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const now = new Date("2026-06-01T00:00:00Z");

  it("shares one CA through an external etcd, even when two nodes start at once, so they verify each other", async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    const [a, b] = await Promise.all(
      ["node-a", "node-b"].map((nodeId) =>
        standaloneNodePki({ pki: pkiLayout(dir()), nodeId, hosts: ["10.0.0.1"], now, shareThrough: store }),
      ),
    );
    expect(a!.caPem).toBe(b!.caPem);
    const ca = new X509Certificate(a!.caPem);
    expect(new X509Certificate(b!.certPem).verify(ca.publicKey)).toBe(true);
    expect(new X509Certificate(a!.certPem).verify(ca.publicKey)).toBe(true);
  });

  it("keeps a node's own CA on SQLite, and reuses its PKI on the next start", async () => {
    const pki = pkiLayout(dir());
    const first = await standaloneNodePki({ pki, nodeId: "solo", hosts: [], now });
    const again = await standaloneNodePki({ pki, nodeId: "solo", hosts: [], now });
    expect(again).toEqual(first);
  });
});
