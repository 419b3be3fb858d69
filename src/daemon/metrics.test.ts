import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GroupCommitStats } from "../store/group-commit/group-commit-store.js";
import { createMetrics } from "./metrics.js";

const line = (text: string, stage: string) =>
  text.split("\n").find((l) => l.startsWith(`blixard_store_transactions_total{stage="${stage}"}`));

describe("createMetrics", () => {
  it("counts the group commit's transactions, cumulatively across scrapes", async () => {
    const stats: GroupCommitStats = { requested: 10, sent: 3, split: 0 };
    const { registry } = createMetrics(async () => [], stats);
    let text = await registry.metrics();
    expect(line(text, "requested")).toBe('blixard_store_transactions_total{stage="requested"} 10');
    expect(line(text, "sent")).toBe('blixard_store_transactions_total{stage="sent"} 3');
    stats.requested += 5;
    stats.sent += 1;
    stats.split += 1;
    text = await registry.metrics();
    expect(line(text, "requested")).toBe('blixard_store_transactions_total{stage="requested"} 15');
    expect(line(text, "sent")).toBe('blixard_store_transactions_total{stage="sent"} 4');
    expect(line(text, "split")).toBe('blixard_store_transactions_total{stage="split"} 1');
  });

  it("has no store transaction counts on a node without group commit (SQLite)", async () => {
    const { registry } = createMetrics(async () => []);
    expect(await registry.metrics()).not.toContain("blixard_store_transactions_total");
  });
});

describe("the /metrics exposition", () => {
  // promtool comes from Debian's prometheus package (scripts/install-system-deps.sh); a missing
  // promtool fails this test instead of skipping it, so CI cannot silently stop checking.
  it("passes `promtool check metrics`, default Node.js metrics and group commit counts included", async () => {
    const quarantineDir = mkdtempSync(join(tmpdir(), "blixard-metrics-quarantine-"));
    mkdirSync(join(quarantineDir, "web-2026-12-03T07-00-00-000Z"));
    writeFileSync(join(quarantineDir, "web-2026-12-03T07-00-00-000Z", "disk.qcow2"), "x".repeat(10_000));
    const { registry } = createMetrics(async () => [], { requested: 3, sent: 1, split: 0 }, quarantineDir);
    const text = await registry.metrics();
    rmSync(quarantineDir, { recursive: true, force: true });
    expect(text).toMatch(/^blixard_quarantined_state_dirs 1$/m);
    expect(text).toMatch(/^blixard_quarantine_bytes [1-9]\d*$/m);
    // The counter-suffixed gauges that promtool rejected are gone; the per-type gauges remain.
    expect(text).not.toMatch(/^# TYPE \S+_total gauge$/m);
    expect(text).toMatch(/^# TYPE blixard_nodejs_active_handles gauge$/m);
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(check.error, "promtool must be installed (scripts/install-system-deps.sh)").toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toBe("");
    expect(check.status).toBe(0);
  });
});
