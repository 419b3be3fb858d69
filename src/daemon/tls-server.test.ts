import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { loadCa } from "../pki/cluster-ca.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import { httpsRequest } from "../pki/https-request.js";
import { issueOwnNodeCert } from "../pki/node-cert.js";
import type { PkiMaterial } from "../pki/pki-files.js";
import { makeTestPki } from "../testing/test-pki.js";
import { type Handler, type ListeningServer, listen } from "./http-server.js";
import { withPkiRoutes } from "./pki-routes.js";

describe("the API over TLS", () => {
  let server: ListeningServer;
  let baseUrl: string;
  let material: PkiMaterial;
  const dirs: string[] = [];
  const seen: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "blixard-tls-"));
    dirs.push(dir);
    ({ material } = await makeTestPki(dir, "node-a"));
    const connect = connectNodeAdapter({
      routes: (router) =>
        router.service(VmService, {
          async getVm(req) {
            return { vm: { name: req.name, desiredState: "running" } };
          },
        }),
    }) as Handler;
    const tagged =
      (who: string): Handler =>
      (req, res) => {
        seen.push(who);
        connect(req, res);
      };
    const handler = withPkiRoutes({ caPem: material.caPem, asUser: tagged("user"), asNode: tagged("node") });
    server = await listen(handler, "127.0.0.1", 0, material);
    baseUrl = `https://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("serves Connect over HTTPS/1.1 and gRPC over TLS with ALPN h2 on one port, verified against the CA", async () => {
    for (const transport of [
      createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        nodeOptions: { agent: nodeHttpsAgent(material) },
      }),
      createGrpcTransport({ baseUrl, nodeOptions: { ca: material.caPem } }),
    ]) {
      const { vm } = await createClient(VmService, transport).getVm({ name: "web" });
      expect(vm).toMatchObject({ name: "web" });
    }
  });

  it("answers nothing in cleartext: a plain-HTTP client (or a guest probing the port) gets no reply", async () => {
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
  });

  it("serves the CA certificate publicly at /cacerts, for joiners to check against their token", async () => {
    const reply = await httpsRequest(`${baseUrl}/cacerts`, { insecure: true });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(material.caPem);
  });

  it("lets a joiner without any credential reach ClusterService.Join (its join token is in the body), and only that", async () => {
    seen.length = 0;
    const headers = { "content-type": "application/json" };
    await httpsRequest(
      `${baseUrl}/blixard.v1.ClusterService/Join`,
      { caPem: material.caPem },
      { method: "POST", body: "{}", headers },
    );
    await httpsRequest(
      `${baseUrl}/blixard.v1.ClusterService/Leave`,
      { caPem: material.caPem },
      { method: "POST", body: "{}", headers },
    );
    expect(seen).toEqual(["node", "user"]);
  });

  it("treats only a client certificate from the cluster CA as a node (a forged one stays a user)", async () => {
    const now = new Date();
    const ours = await issueOwnNodeCert(
      await loadCa({ certPem: material.caPem, keyPem: material.caKeyPem }),
      "node-b",
      [],
      now,
    );
    const dir = mkdtempSync(join(tmpdir(), "blixard-tls-other-"));
    dirs.push(dir);
    const other = await makeTestPki(dir, "node-b");
    const call = async (cert?: { certPem: string; keyPem: string }) => {
      seen.length = 0;
      const agent = nodeHttpsAgent({ caPem: material.caPem, ...cert });
      await createClient(
        VmService,
        createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } }),
      ).getVm({ name: "x" });
      agent.destroy();
      return seen[0];
    };
    expect(await call(ours)).toBe("node");
    expect(await call()).toBe("user");
    // Same node id, signed by another CA: not a node of this cluster.
    expect(await call({ certPem: other.material.certPem, keyPem: other.material.keyPem })).toBe("user");
  });
});
