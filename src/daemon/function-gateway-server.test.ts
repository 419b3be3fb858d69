import { afterEach, describe, expect, it } from "vitest";
import { isBlixardError } from "../core/errors.js";
import { systemClock } from "../platform/system-clock.js";
import { silentLogger } from "../ports/logger.js";
import { freePort } from "../store/etcd/free-ports.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { type GatewayServer, startGatewayServer } from "./function-gateway-server.js";

describe("the gateway's listener", () => {
  const started: GatewayServer[] = [];
  afterEach(async () => {
    for (const g of started.splice(0)) await g.close();
  });
  const base = () => ({
    store: new MemoryStore({ clock: systemClock }),
    clock: systemClock,
    logger: silentLogger,
    nodeId: "n1",
    tls: undefined,
    domain: "blixard.internal",
    lease: () => undefined,
  });

  it("refuses a bind beyond loopback without TLS (function traffic in clear on the network)", async () => {
    const err = await startGatewayServer({
      ...base(),
      bind: { host: "0.0.0.0", port: await freePort() },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBlixardError(err, "INVALID_ARGUMENT")).toBe(true);
    expect(String((err as Error).message)).toContain("needs TLS");
  });

  it("runs without a listener, rather than not at all, when its port is taken by another node", async () => {
    const port = await freePort();
    const first = await startGatewayServer({ ...base(), bind: { host: "127.0.0.1", port } });
    started.push(first);
    const second = await startGatewayServer({ ...base(), bind: { host: "127.0.0.1", port } });
    started.push(second);
    expect(first.server?.port).toBe(port);
    expect(second.server).toBeUndefined();
    const res = await fetch(`http://127.0.0.1:${port}/nothing`);
    expect(res.status).toBe(404);
  });

  it("with --gateway-bind off, listens nowhere but keeps the gateway for other nodes' requests", async () => {
    const off = await startGatewayServer({ ...base(), bind: "off" });
    started.push(off);
    expect(off.server).toBeUndefined();
    expect(off.gateway).toBeDefined();
  });
});
