import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseVmSpec } from "../core/vm-spec.js";
import { forwardAdmission } from "./forward-admission.js";

async function listening(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

describe("forward admission", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  const spec = (host: number, protocol: "tcp" | "udp" = "tcp") =>
    parseVmSpec({ name: "web", kernel: "/k", forwards: [{ host, guest: 80, protocol }] });

  // The attack: a VM forwarding the node's own API or etcd port, to take it over or answer in its place.
  it.each([
    [7001, "API port"],
    [7002, "etcd client port"],
    [7003, "etcd peer port"],
  ])("refuses the node's own port %i, naming the field", async (port, what) => {
    const admit = forwardAdmission(() => [
      { port: 7001, what: "API port" },
      { port: 7002, what: "etcd client port" },
      { port: 7003, what: "etcd peer port" },
    ]);
    const violations = await admit(spec(port));
    expect(violations).toHaveLength(1);
    expect(violations[0]!.field).toBe("spec.forwards.0.host");
    expect(violations[0]!.message).toContain(`this node's ${what}`);
  });

  it.each(["127.0.0.1", "0.0.0.0"])("refuses a port another service listens on (on %s)", async (host) => {
    const { server, port } = await listening(host);
    servers.push(server);
    const violations = await forwardAdmission(() => [])(spec(port));
    expect(violations).toEqual([
      { field: "spec.forwards.0.host", message: expect.stringMatching(/tcp port \d+ is already in use/) },
    ]);
  });

  it("accepts a free port and leaves it free for the VM", async () => {
    const { server, port } = await listening("127.0.0.1");
    await new Promise((r) => server.close(r));
    expect(await forwardAdmission(() => [])(spec(port))).toEqual([]);
    expect(await forwardAdmission(() => [])(spec(port, "udp"))).toEqual([]);
    // Still bindable: the check released it.
    const again = createServer();
    await new Promise<void>((resolve) => again.listen(port, "127.0.0.1", resolve));
    servers.push(again);
  });
});
