import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import { systemClock } from "../../platform/system-clock.js";
import { QmpClient, qmpOnce } from "./qmp-client.js";

type Reply = (msg: { execute: string; arguments?: unknown; id?: unknown }, socket: net.Socket) => void;

/** A fake qemu QMP endpoint: greets, negotiates, and answers commands through `reply`. */
function fakeQmp(socketPath: string, reply: Reply, options: { greet?: boolean } = {}) {
  const received: { execute: string; arguments?: unknown }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    if (options.greet !== false) {
      socket.write(
        '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\r\n',
      );
    }
    let buffer = "";
    socket.on("data", (chunk) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const msg = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        received.push(msg);
        if (msg.execute === "qmp_capabilities")
          socket.write(`{"return": {}, "id": ${JSON.stringify(msg.id)}}\r\n`);
        else reply(msg, socket);
      }
    });
  });
  const listening = new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    received,
    listening,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const opts = { clock: systemClock, timeoutMs: 2_000 };
let dir: string;
let sock: string;
let server: ReturnType<typeof fakeQmp> | undefined;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "blixard-qmp-"));
  sock = path.join(dir, "qmp.sock");
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function expectCode(promise: Promise<unknown>, code: Parameters<typeof isBlixardError>[1]) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBlixardError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  return err as Error;
}

describe("QmpClient", () => {
  it("negotiates capabilities and returns a command's result, ignoring interleaved events", async () => {
    server = fakeQmp(sock, (msg, socket) => {
      socket.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n');
      // Split the reply across writes to exercise line buffering.
      const line = `{"return": {"status": "running", "running": true}, "id": ${JSON.stringify(msg.id)}}\r\n`;
      socket.write(line.slice(0, 10));
      setTimeout(() => socket.write(line.slice(10)), 5);
    });
    await server.listening;
    const client = await QmpClient.connect(sock, opts);
    await expect(client.execute("query-status")).resolves.toEqual({ status: "running", running: true });
    client.close();
    expect(server.received.map((m) => m.execute)).toEqual(["qmp_capabilities", "query-status"]);
  });

  it("sends arguments and matches replies to calls by id", async () => {
    server = fakeQmp(sock, (msg, socket) => {
      // Answer in reverse order of arrival.
      const delay = msg.execute === "first" ? 30 : 0;
      setTimeout(
        () => socket.write(`{"return": "${msg.execute}", "id": ${JSON.stringify(msg.id)}}\n`),
        delay,
      );
    });
    await server.listening;
    const client = await QmpClient.connect(sock, opts);
    const [a, b] = await Promise.all([client.execute("first", { x: 1 }), client.execute("second")]);
    client.close();
    expect([a, b]).toEqual(["first", "second"]);
    expect(server.received[1]).toMatchObject({ execute: "first", arguments: { x: 1 } });
  });

  it("rejects with the QMP error description", async () => {
    server = fakeQmp(sock, (msg, socket) => {
      socket.write(
        `{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": ${JSON.stringify(msg.id)}}\n`,
      );
    });
    await server.listening;
    const client = await QmpClient.connect(sock, opts);
    const err = await expectCode(client.execute("nope"), "DRIVER_FAILED");
    client.close();
    expect(err.message).toContain("The command nope has not been found");
  });

  it("times out a command that gets no reply, and the connection stays usable", async () => {
    server = fakeQmp(sock, (msg, socket) => {
      if (msg.execute !== "hang") socket.write(`{"return": {}, "id": ${JSON.stringify(msg.id)}}\n`);
    });
    await server.listening;
    const client = await QmpClient.connect(sock, opts);
    const err = await expectCode(client.execute("hang", undefined, 50), "DEADLINE_EXCEEDED");
    expect(err.message).toContain("hang");
    await expect(client.execute("query-status")).resolves.toEqual({});
    client.close();
  });

  it("times out when the server never greets (e.g. another client holds the monitor)", async () => {
    server = fakeQmp(sock, () => {}, { greet: false });
    await server.listening;
    await expectCode(QmpClient.connect(sock, { ...opts, timeoutMs: 100 }), "DEADLINE_EXCEEDED");
  });

  it("fails as UNAVAILABLE when nothing listens on the socket", async () => {
    await expectCode(QmpClient.connect(sock, opts), "UNAVAILABLE");
  });

  it("rejects pending calls when qemu closes the connection", async () => {
    server = fakeQmp(sock, (_msg, socket) => socket.destroy());
    await server.listening;
    const client = await QmpClient.connect(sock, opts);
    await expectCode(client.execute("quit"), "UNAVAILABLE");
    await expectCode(client.execute("query-status"), "UNAVAILABLE");
    client.close();
  });

  it("qmpOnce runs one command and disconnects", async () => {
    server = fakeQmp(sock, (msg, socket) =>
      socket.write(`{"return": 42, "id": ${JSON.stringify(msg.id)}}\n`),
    );
    await server.listening;
    await expect(qmpOnce(sock, "query-x", undefined, opts)).resolves.toBe(42);
  });
});
