/**
 * `--store etcd+https://...`: a node on an external etcd that speaks only TLS with client
 * certificates (--client-cert-auth) and has user authentication enabled. The node connects with
 * --etcd-cacert/--etcd-cert/--etcd-key and a user whose password comes from a file, never argv;
 * nodes without a client certificate, or with a wrong password, are refused.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tlsArgs } from "../../src/daemon/etcd/etcd-args.js";
import { loadCa } from "../../src/pki/cluster-ca.js";
import { httpsRequest } from "../../src/pki/https-request.js";
import { issueOwnNodeCert } from "../../src/pki/node-cert.js";
import { EtcdMemberProcess } from "../../src/store/etcd/etcd-member.js";
import { freePorts } from "../../src/store/etcd/free-ports.js";
import { makeTestPki } from "../../src/testing/test-pki.js";
import { image, TestNode, until } from "./harness.js";

describe("a node on an external etcd over TLS with client certificates and a user", () => {
  const dir = mkdtempSync(join(tmpdir(), "blixard-etcd-tls-"));
  const nodes: TestNode[] = [];
  let etcd: EtcdMemberProcess | undefined;
  let url = "";
  const files = {
    ca: join(dir, "pki", "ca.crt"),
    serverCert: join(dir, "pki", "node.crt"),
    serverKey: join(dir, "pki", "node.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
    password: join(dir, "etcd-password"),
  };
  const PASSWORD = "s3cret-etcd-password-for-blixard";

  const etcdctl = (...args: string[]) =>
    spawnSync(
      "etcdctl",
      [
        `--endpoints=${url}`,
        `--cacert=${files.ca}`,
        `--cert=${files.clientCert}`,
        `--key=${files.clientKey}`,
        "--dial-timeout=3s",
        ...args,
      ],
      { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } },
    );

  beforeAll(async () => {
    // The etcd server's certificate and a client certificate, both from one CA.
    const { material } = await makeTestPki(dir, "etcd-server", ["127.0.0.1"]);
    const ca = await loadCa({ certPem: material.caPem, keyPem: material.caKeyPem });
    const client = await issueOwnNodeCert(ca, "root", [], new Date());
    writeFileSync(files.clientCert, client.certPem);
    writeFileSync(files.clientKey, client.keyPem, { mode: 0o600 });
    writeFileSync(files.password, `${PASSWORD}\n`, { mode: 0o600 });
    const [clientPort, peerPort] = await freePorts(2);
    url = `https://127.0.0.1:${clientPort}`;
    etcd = await EtcdMemberProcess.start({
      name: "ext",
      dataDir: join(dir, "etcd"),
      clientUrl: url,
      peerUrl: `https://127.0.0.1:${peerPort}`,
      initialCluster: `ext=https://127.0.0.1:${peerPort}`,
      initialClusterState: "new",
      initialClusterToken: "ext-tls",
      logFile: join(dir, "etcd.log"),
      extraArgs: tlsArgs({ caFile: files.ca, certFile: files.serverCert, keyFile: files.serverKey }),
    });
    const tls = {
      caPem: material.caPem,
      certPem: readFileSync(files.clientCert, "utf8"),
      keyPem: readFileSync(files.clientKey, "utf8"),
    };
    await until("etcd to be healthy", () =>
      httpsRequest(`${url}/health`, tls).then(
        (r) => r.status === 200 || undefined,
        () => undefined,
      ),
    );
    for (const args of [
      ["user", "add", `root:${PASSWORD}`],
      ["auth", "enable"],
    ]) {
      const res = etcdctl(...args);
      if (res.status !== 0) throw new Error(`etcdctl ${args[0]}: ${res.stderr}`);
    }
  });
  afterAll(async () => {
    for (const node of nodes) await node.destroy();
    await etcd?.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  const store = () => `etcd+https://${url.replace("https://", "")}/tls`;
  const tlsFlags = () => [
    "--etcd-cacert",
    files.ca,
    "--etcd-cert",
    files.clientCert,
    "--etcd-key",
    files.clientKey,
  ];

  it("connects with a client certificate and a password from a file, which stays off the command line", async () => {
    const node = await TestNode.start([
      "--store",
      store(),
      ...tlsFlags(),
      "--etcd-username",
      "root",
      "--etcd-password-file",
      files.password,
    ]);
    nodes.push(node);
    node.ok("vm", "create", "over-tls", "--kernel", image().kernel);
    const got = etcdctl("--user", `root:${PASSWORD}`, "get", "--prefix", "--keys-only", "/tls/");
    expect(got.stdout).toMatch(/\/tls\/blixard\/v1\/vms\/over-tls/);
    expect(readFileSync(`/proc/${node.pid}/cmdline`, "utf8")).not.toContain(PASSWORD);
  });

  it("refuses a node without a client certificate (the attack: an open etcd port)", async () => {
    const node = await TestNode.create(["--store", store(), "--etcd-cacert", files.ca]);
    nodes.push(node);
    await expect(node.launch()).rejects.toThrow(/node exited early/);
    // etcd ends the handshake ("bad certificate"); under load grpc-js may report its retry deadline
    // instead. The test before this one shows the same node options with a certificate get in.
    expect(node.log()).toMatch(
      /cannot reach the etcd cluster .*(the TLS handshake failed.*bad certificate|DEADLINE_EXCEEDED)/,
    );
  });

  it("refuses a node with the right certificate but a wrong password", async () => {
    const wrong = join(dir, "wrong-password");
    writeFileSync(wrong, "not-the-password\n", { mode: 0o600 });
    const node = await TestNode.create([
      "--store",
      store(),
      ...tlsFlags(),
      "--etcd-username",
      "root",
      "--etcd-password-file",
      wrong,
    ]);
    nodes.push(node);
    await expect(node.launch()).rejects.toThrow(/node exited early/);
    expect(node.log()).toMatch(/etcd refused the user name or password/);
  });
});
