import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeCertificateChecker } from "../api/authenticator.js";
import { actorOf, authorize, principalValues } from "../api/principal-context.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { loadCa } from "../pki/cluster-ca.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import { httpsRequest } from "../pki/https-request.js";
import { issueOwnNodeCert } from "../pki/node-cert.js";
import type { PkiMaterial } from "../pki/pki-files.js";
import { makeTestPki } from "../testing/test-pki.js";
import { createHostCheck } from "./host-check.js";
import { type Handler, type ListeningServer, listen } from "./http-server.js";
import { createRequestHandler } from "./request-handler.js";

describe("the API over TLS", () => {
  let server: ListeningServer;
  let baseUrl: string;
  let material: PkiMaterial;
  const dirs: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "blixard-tls-"));
    dirs.push(dir);
    ({ material } = await makeTestPki(dir, "node-a"));
    // The production request handler and policy interceptor; GetVm answers with the caller's name.
    const connect = connectNodeAdapter({
      interceptors: [authorize],
      contextValues: principalValues,
      routes: (router) =>
        router.service(VmService, {
          async getVm(_req, ctx) {
            return { vm: { name: actorOf(ctx)?.name ?? "nobody", desiredState: "running" } };
          },
        }),
    }) as Handler;
    const handler = createRequestHandler({
      connect,
      registry: new Registry(),
      checkers: [nodeCertificateChecker()],
      hostCheck: createHostCheck({ bindHost: "127.0.0.1", advertiseHost: "127.0.0.1" }),
      caPem: material.caPem,
    });
    server = await listen(handler, "127.0.0.1", 0, material);
    baseUrl = `https://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("serves Connect over HTTPS/1.1 and gRPC over TLS with ALPN h2 on one port, verified against the CA", async () => {
    // With the node's certificate (nodeHttpsAgent presents it) over HTTPS/1.1: a node of the cluster.
    const overH1 = createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      nodeOptions: { agent: nodeHttpsAgent(material) },
    });
    const { vm } = await createClient(VmService, overH1).getVm({ name: "web" });
    expect(vm?.name).toBe("node:node-a");
    // gRPC with ALPN h2 and no client certificate: TLS works, and the policy refuses the anonymous caller.
    const overH2 = createGrpcTransport({ baseUrl, nodeOptions: { ca: material.caPem } });
    const err = await createClient(VmService, overH2)
      .getVm({ name: "web" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Unauthenticated });
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
    const headers = { "content-type": "application/json" };
    const call = (method: string) =>
      httpsRequest(
        `${baseUrl}/blixard.v1.ClusterService/${method}`,
        { caPem: material.caPem },
        { method: "POST", body: "{}", headers },
      );
    // Join passes authentication (this test server has no ClusterService, so Connect answers 404).
    expect((await call("Join")).status).toBe(404);
    expect((await call("Leave")).status).toBe(401);
  });

  it("treats only a client certificate from the cluster CA as a node (a forged one authenticates nobody)", async () => {
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
      const agent = nodeHttpsAgent({ caPem: material.caPem, ...cert });
      try {
        const { vm } = await createClient(
          VmService,
          createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } }),
        ).getVm({ name: "x" });
        return vm?.name;
      } catch (err) {
        return ConnectError.from(err).code === Code.Unauthenticated ? "unauthenticated" : String(err);
      } finally {
        agent.destroy();
      }
    };
    expect(await call(ours)).toBe("node:node-b");
    expect(await call()).toBe("unauthenticated");
    // Same node id, signed by another CA: not a node of this cluster.
    expect(await call({ certPem: other.material.certPem, keyPem: other.material.keyPem })).toBe(
      "unauthenticated",
    );
  });
});
