import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type HttpsTls, httpsRequest } from "../../pki/https-request.js";
import type { PkiLayout } from "../../pki/pki-files.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import { freePort } from "../../store/etcd/free-ports.js";
import { makeTestPki } from "../../testing/test-pki.js";
import { type MemberConfig, peerUrl } from "./etcd-args.js";
import { ManagedEtcd } from "./managed-etcd.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function put(url: string, tls: HttpsTls, key: string, value: string): Promise<void> {
  const res = await httpsRequest(`${url}/v3/kv/put`, tls, {
    method: "POST",
    body: JSON.stringify({ key: b64(key), value: b64(value) }),
  });
  expect(res.status).toBe(200);
}

async function get(url: string, tls: HttpsTls, key: string): Promise<string | undefined> {
  const res = await httpsRequest(`${url}/v3/kv/range`, tls, {
    method: "POST",
    body: JSON.stringify({ key: b64(key) }),
  });
  const body = JSON.parse(res.body) as { kvs?: { value: string }[] };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, "base64").toString();
}

describe("managed etcd member (real etcd)", () => {
  let dir: string;
  let config: MemberConfig;
  let pki: PkiLayout;
  let tls: HttpsTls;
  const members: ManagedEtcd[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "blixard-etcd-"));
    const made = await makeTestPki(dir, "node-a");
    pki = made.pki;
    tls = { caPem: made.material.caPem, certPem: made.material.certPem, keyPem: made.material.keyPem };
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
      tls: { caFile: pki.caCert, certFile: pki.nodeCert, keyFile: pki.nodeKey },
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
    await put(member.url, tls, "/k", "v");
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
      value = await get(member.url, tls, "/k").catch(() => undefined);
      if (value === undefined) await new Promise((r) => setTimeout(r, 200));
    }
    expect(value).toBe("v");
  });

  it("refuses etcdctl without a client certificate on the client port, and serves it with one", async () => {
    const member = await start();
    await put(member.url, tls, "/blixard/v1/vms/x", "original");
    // The attack from issue 11: a local user or guest writes a VM record straight into etcd.
    const etcdctl = (...args: string[]) =>
      spawnSync(
        "etcdctl",
        [`--endpoints=${member.url}`, "--dial-timeout=3s", "--command-timeout=5s", ...args],
        {
          encoding: "utf8",
          env: { ...process.env, ETCDCTL_API: "3" },
        },
      );
    const noCert = etcdctl(`--cacert=${pki.caCert}`, "put", "/blixard/v1/vms/x", "evil");
    expect(noCert.status).not.toBe(0);
    expect(noCert.stderr).toMatch(/certificate|tls|handshake|deadline/i);
    const plain = etcdctl("--insecure-transport=true", "put", "/blixard/v1/vms/x", "evil");
    expect(plain.status).not.toBe(0);
    expect(await get(member.url, tls, "/blixard/v1/vms/x")).toBe("original");
    // Control: the same command with the node's certificate works, so the refusals above are the check.
    const withCert = etcdctl(
      `--cacert=${pki.caCert}`,
      `--cert=${pki.nodeCert}`,
      `--key=${pki.nodeKey}`,
      "get",
      "/blixard/v1/vms/x",
      "--print-value-only",
    );
    expect(withCert.stderr).toBe("");
    expect(withCert.stdout.trim()).toBe("original");
  });

  it("refuses a TLS connection without a client certificate on the peer port", async () => {
    await start();
    const peer = `https://127.0.0.1:${config.peerPort}/version`;
    // A would-be peer (or an attacker) with no certificate: the handshake is refused.
    await expect(httpsRequest(peer, { caPem: tls.caPem })).rejects.toThrow(
      /certificate|handshake|alert|socket|reset/i,
    );
    // A certificate from another CA is refused as well.
    const other = await makeTestPki(join(dir, "other"), "node-a");
    await expect(
      httpsRequest(peer, {
        caPem: tls.caPem,
        certPem: other.material.certPem,
        keyPem: other.material.keyPem,
      }),
    ).rejects.toThrow(/certificate|handshake|alert|socket|reset/i);
    // Plain TCP speaking HTTP gets no answer from etcd's peer handler either.
    const plainAnswer = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: "127.0.0.1", port: config.peerPort, rejectUnauthorized: false });
      let got = "";
      socket.on("data", (d: Buffer) => {
        got += d.toString();
      });
      socket.on("error", () => resolve(`error:${got}`));
      socket.on("close", () => resolve(`closed:${got}`));
      socket.on("secureConnect", () => socket.write("GET /version HTTP/1.1\r\nHost: x\r\n\r\n"));
    });
    expect(plainAnswer).not.toMatch(/etcdserver/);
    // Control: with the node's certificate the peer port answers.
    const ok = await httpsRequest(peer, tls);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/etcdserver/);
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
