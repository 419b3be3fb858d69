import { Socket } from "node:net";
import { createClient } from "@connectrpc/connect";
import {
  connectNodeAdapter,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { type Handler, type ListeningServer, listen } from "./http-server.js";

describe("one port for every protocol", () => {
  let server: ListeningServer;
  let baseUrl: string;

  beforeAll(async () => {
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(VmService, {
          async getVm(req) {
            return { vm: { name: req.name, desiredState: "running" } };
          },
        }),
    });
    server = await listen(handler as Handler, "127.0.0.1", 0);
    baseUrl = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => server.close());

  it.each([
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl, httpVersion: "1.1" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
    ["gRPC over cleartext HTTP/2", () => createGrpcTransport({ baseUrl })],
    ["Connect over cleartext HTTP/2", () => createConnectTransport({ baseUrl, httpVersion: "2" })],
  ])("serves %s", async (_name, transport) => {
    const client = createClient(VmService, transport());
    const { vm } = await client.getVm({ name: "web" });
    expect(vm).toMatchObject({ name: "web", desiredState: "running" });
  });

  it("turns Nagle's algorithm off on every connection it accepts (gRPC calls waited ~40 ms each)", async () => {
    const setNoDelay = vi.spyOn(Socket.prototype, "setNoDelay");
    try {
      const client = createClient(VmService, createGrpcTransport({ baseUrl }));
      await client.getVm({ name: "web" });
      const accepted = setNoDelay.mock.contexts.filter(
        (socket) => (socket as Socket).localPort === server.port,
      );
      expect(accepted.length).toBeGreaterThan(0);
      expect(setNoDelay.mock.calls[setNoDelay.mock.contexts.indexOf(accepted[0])]).toEqual([true]);
    } finally {
      setNoDelay.mockRestore();
    }
  });
});
