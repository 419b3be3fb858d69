import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import { type MemberConfig, peerUrl } from "./etcd-args.js";
import { ManagedEtcd } from "./managed-etcd.js";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function put(url: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${url}/v3/kv/put`, {
    method: "POST",
    body: JSON.stringify({ key: b64(key), value: b64(value) }),
  });
  expect(res.ok).toBe(true);
}

async function get(url: string, key: string): Promise<string | undefined> {
  const res = await fetch(`${url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: b64(key) }) });
  const body = (await res.json()) as { kvs?: { value: string }[] };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, "base64").toString();
}

describe("managed etcd member (real etcd)", () => {
  let dir: string;
  let config: MemberConfig;
  const members: ManagedEtcd[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "blixard-etcd-"));
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const base = { host: "127.0.0.1", clientPort, peerPort };
    config = {
      name: "node-a",
      dataDir: join(dir, "etcd"),
      ...base,
      initialCluster: `node-a=${peerUrl(base)}`,
      initialClusterState: "new",
      clusterToken: "blixard-test",
      compactionRetentionHours: 1,
      snapshotCount: 10000,
    };
  });
  afterEach(async () => {
    for (const m of members.splice(0)) await m.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (extra: Partial<Parameters<typeof ManagedEtcd.start>[0]> = {}) => {
    const member = await ManagedEtcd.start({
      config,
      runDir: dir,
      logger: silentLogger,
      clock: systemClock,
      restartDelayMs: 200,
      ...extra,
    });
    members.push(member);
    return member;
  };

  it("starts a healthy member and restarts it, keeping its data, when it is killed", async () => {
    const member = await start();
    await put(member.url, "/k", "v");
    const firstPid = member.pid!;
    process.kill(firstPid, "SIGKILL");
    const deadline = Date.now() + 30_000;
    while ((member.pid === firstPid || member.restarts === 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(member.restarts).toBe(1);
    expect(member.pid).not.toBe(firstPid);
    let value: string | undefined;
    while (value === undefined && Date.now() < deadline) {
      value = await get(member.url, "/k").catch(() => undefined);
      if (value === undefined) await new Promise((r) => setTimeout(r, 200));
    }
    expect(value).toBe("v");
  });

  it("says clearly when the etcd binary is missing", async () => {
    await expect(start({ binary: join(dir, "no-etcd") })).rejects.toThrow(
      /is not installed; install it \(Debian: apt-get install etcd-server\)/,
    );
  });

  it("refuses to start when its client port is taken", async () => {
    const blocker: Server = await new Promise((resolve) => {
      const srv = createServer().listen(config.clientPort, config.host, () => resolve(srv));
    });
    try {
      await expect(start()).rejects.toThrow(
        /etcd client port 127\.0\.0\.1:\d+ is already in use; .*--etcd-client-port/,
      );
    } finally {
      blocker.close();
    }
  });

  it("replaces a member left running by a node that was SIGKILLed", async () => {
    const first = await start();
    const leftover = first.pid!;
    // The node dies without stopping its child: forget the member without stopping it.
    members.splice(members.indexOf(first), 1);
    (first as unknown as { stopping: boolean }).stopping = true;
    const second = await start();
    expect(second.pid).not.toBe(leftover);
    expect(() => process.kill(leftover, 0)).toThrow();
  });
});
