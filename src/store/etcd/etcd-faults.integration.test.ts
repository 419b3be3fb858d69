/**
 * EtcdStore under member failures, on a real 3-member cluster on loopback: losing quorum must fail
 * calls within the deadline and never apply them, and a watch must survive the loss of the member it
 * streams from without a gap. Each test leaves all members running again.
 */
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { LogFields, Logger } from "../../ports/logger.js";
import { WatchReader } from "../contract/context.contract.js";
import { LocalEtcdCluster } from "./etcd-cluster.js";
import { EtcdStore } from "./etcd-store.js";

/** Short, to keep the quorum-loss test quick; one member's crash needs the default 5 s for an election. */
const SHORT_TIMEOUT_MS = 2_000;

let cluster: LocalEtcdCluster;
const stores: EtcdStore[] = [];

beforeAll(async () => {
  cluster = await LocalEtcdCluster.start({ size: 3 });
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (let i = 0; i < cluster.size; i++) await cluster.restartMember(i);
  await cluster.waitHealthy();
});

afterAll(async () => {
  await cluster?.destroy();
});

/** Remembers warnings, to see that a watch really lost its stream. */
function recordingLogger(warnings: string[]): Logger {
  const logger: Logger = {
    debug() {},
    info() {},
    warn(_fields: LogFields, msg: string) {
      warnings.push(msg);
    },
    error() {},
    child: () => logger,
  };
  return logger;
}

async function connect(
  namespace: string,
  options: { logger?: Logger; callTimeoutMs?: number } = {},
): Promise<EtcdStore> {
  const store = await EtcdStore.connect({ endpoints: cluster.endpoints, namespace, ...options });
  stores.push(store);
  return store;
}

/**
 * Waits until the member at `index` knows it has no leader. A leader that has just lost its
 * followers still accepts proposals for up to an election timeout; such a write can commit later,
 * when the followers return (the client saw a timeout, so it was told the outcome is unknown).
 * Writing only after the member has stepped down makes "never applied" a certainty to test.
 */
async function waitLeaderless(index: number): Promise<void> {
  const client = new Etcd3({ hosts: [cluster.endpoint(index)] });
  try {
    for (let i = 0; i < 100; i++) {
      const status = await client.maintenance.status({});
      if (status.leader === "0") return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`member ${index} still has a leader 10 s after losing its peers`);
  } finally {
    client.close();
  }
}

/**
 * Kills a member and waits until the others serve again. If it was the leader, a write sent before
 * the others have elected a new one is forwarded to the dead leader and lost, and its caller gets a
 * timeout (etcd does not re-propose it); that ambiguity is the port's documented failure mode, not
 * what these tests are about.
 */
async function crash(index: number): Promise<void> {
  await cluster.stopMember(index);
  await cluster.waitHealthy();
}

async function elapsed(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = Date.now();
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, ms: Date.now() - start };
}

describe("EtcdStore with failing members", () => {
  it("fails a put within the deadline when 2 of 3 members are down, and never applies it", async () => {
    const store = await connect("/quorum", { callTimeoutMs: SHORT_TIMEOUT_MS });
    await store.put("/before", "v");
    const revision = await store.revision();
    await cluster.stopMember(1);
    await cluster.stopMember(2);
    await waitLeaderless(0);

    const put = await elapsed(store.put("/lost", "v"));
    expect(put.error).toMatchObject({
      name: "BlixardError",
      code: expect.stringMatching(/^(UNAVAILABLE|DEADLINE_EXCEEDED)$/),
    });
    expect((put.error as Error).message).toMatch(/unreachable or has lost quorum/);
    expect(put.ms).toBeLessThan(SHORT_TIMEOUT_MS + 1_000);
    const read = await elapsed(store.get("/before"));
    expect(read.error).toMatchObject({ code: expect.stringMatching(/^(UNAVAILABLE|DEADLINE_EXCEEDED)$/) });
    expect(read.ms).toBeLessThan(SHORT_TIMEOUT_MS + 1_000);

    await cluster.restartMember(1);
    await cluster.restartMember(2);
    await cluster.waitHealthy();
    expect(await store.get("/lost")).toBeUndefined();
    expect(await store.revision()).toBe(revision);
  });

  it("fails a quorum-confirmed txn cleanly when the leader has just lost its followers", async () => {
    // Talk to the leader itself, and write before it notices it has lost its quorum: the window in
    // which a plain write is accepted into its log and may commit later (see waitLeaderless).
    const admin = new Etcd3({ hosts: cluster.endpoints });
    const statuses = await Promise.all(
      cluster.endpoints.map((host) => {
        const one = new Etcd3({ hosts: [host] });
        return one.maintenance.status({}).finally(() => one.close());
      }),
    );
    admin.close();
    const leader = statuses.findIndex((s) => s.leader === s.header.member_id);
    expect(leader).toBeGreaterThanOrEqual(0);
    const store = await EtcdStore.connect({
      endpoints: [cluster.endpoint(leader)],
      namespace: "/confirm",
      callTimeoutMs: SHORT_TIMEOUT_MS,
    });
    stores.push(store);
    await store.put("/before", "v");
    const others = [0, 1, 2].filter((i) => i !== leader);
    await Promise.all(others.map((i) => cluster.stopMember(i)));

    const txn = await elapsed(
      store.txn({
        confirmQuorum: true,
        compare: [{ key: "/vm", target: "createRevision", op: "=", value: 0 }],
        success: [{ type: "put", key: "/vm", value: "v" }],
      }),
    );
    expect((txn.error as Error).message).toMatch(/lost quorum.*Nothing was written/);

    for (const i of others) await cluster.restartMember(i);
    await cluster.waitHealthy();
    // Give a proposal left in the old leader's log every chance to commit before checking.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await store.get("/vm")).toBeUndefined();
  });

  it("accepts writes again once the members are back", async () => {
    const store = await connect("/recover", { callTimeoutMs: SHORT_TIMEOUT_MS });
    await cluster.stopMember(0);
    await cluster.stopMember(1);
    await expect(store.put("/during", "v")).rejects.toMatchObject({ name: "BlixardError" });
    await cluster.restartMember(0);
    await cluster.restartMember(1);
    await cluster.waitHealthy();
    const revision = await store.put("/after", "v");
    expect(await store.get("/after")).toMatchObject({ value: "v", modRevision: revision });
  });

  it("shares one quorum-confirming read among concurrent writes that ask for it", async () => {
    const store = await connect("/group-confirm");
    const probe = vi.spyOn(store as unknown as { probe: (...a: unknown[]) => unknown }, "probe");
    const writes = Array.from({ length: 16 }, (_, i) =>
      store.txn({
        compare: [{ key: `/k${i}`, target: "createRevision", op: "=", value: 0 }],
        success: [{ type: "put", key: `/k${i}`, value: "v" }],
        confirmQuorum: true,
      }),
    );
    const results = await Promise.all(writes);
    expect(results.every((r) => r.succeeded)).toBe(true);
    expect(probe.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(probe.mock.calls.length).toBeLessThan(16);
    expect((await store.range("/")).kvs).toHaveLength(16);
  });

  it("keeps serving with one member down, whichever member it was connected to", async () => {
    const store = await connect("/one-down");
    for (let i = 0; i < cluster.size; i++) {
      await crash(i);
      for (let n = 0; n < 5; n++) await store.put(`/k${i}-${n}`, "v");
      await cluster.restartMember(i);
      await cluster.waitHealthy();
    }
    expect((await store.range("/")).kvs).toHaveLength(15);
  });

  it("keeps a watch without gaps while the member it streams from is killed", async () => {
    const warnings: string[] = [];
    const store = await connect("/watch", { logger: recordingLogger(warnings) });
    const start = (await store.revision()) + 1;
    const reader = new WatchReader(store.watch("/w/", { fromRevision: start }));
    // The watch streams from one of the members; killing each in turn kills that one too.
    for (let i = 0; i < cluster.size; i++) {
      for (let n = 0; n < 3; n++) await store.put(`/w/${i}-before-${n}`, "v");
      await crash(i);
      for (let n = 0; n < 3; n++) await store.put(`/w/${i}-during-${n}`, "v");
      const events = await reader.events(6);
      expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 6 }, (_, n) => start + 6 * i + n));
      await cluster.restartMember(i);
      await cluster.waitHealthy();
    }
    expect(warnings).toContain("etcd watch stream broke; resuming on another member");
    const sentinel = await store.put("/w/sentinel", "v");
    expect((await reader.next()).revision).toBe(sentinel);
    reader.close();
  });
});
