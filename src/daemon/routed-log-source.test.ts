import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type ServiceImpl,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { withErrorMapping } from "../api/error-mapping.js";
import type { VmRepository } from "../api/vm-repository.js";
import { type LogSource, type VmServiceDeps, vmServiceImpl } from "../api/vm-service.js";
import { BlixardError, isBlixardError } from "../core/errors.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { textStream } from "../testing/text-stream.js";
import { routedLogSource } from "./routed-log-source.js";

type PartialVmService = Partial<ServiceImpl<typeof VmService>>;

/** A stand-in for another node: a real HTTP server hosting (part of) a VmService. */
interface RemoteNode {
  url: string;
  /** Authorization headers of the requests it received. */
  auth: (string | undefined)[];
}

describe("routedLogSource", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      s.close();
    }
  });

  async function startNode(impl: PartialVmService): Promise<RemoteNode> {
    const auth: (string | undefined)[] = [];
    const adapter = connectNodeAdapter({ routes: (router) => router.service(VmService, impl) });
    const server = createServer((req, res) => {
      auth.push(req.headers.authorization);
      adapter(req, res);
    });
    servers.push(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, auth };
  }

  /** A local source that records its calls and serves a fixed text. */
  function fakeLocal() {
    const calls: string[] = [];
    const local: LogSource = {
      stream(name, lines) {
        calls.push(`stream ${name} ${lines}`);
        return textStream(["local ", "log\n"], 10);
      },
      async *follow(name, offset) {
        calls.push(`follow ${name} ${offset}`);
        yield "local new\n";
      },
    };
    return { local, calls };
  }

  /** VM "web" runs here (node-a), VM "db" on node-b at `urlB`; node-c owns "ghost" but never registered. */
  function source(urlB: string | undefined, local = fakeLocal().local, token: string | null = "s3cret") {
    const owners: Record<string, string> = { web: "node-a", db: "node-b", ghost: "node-c" };
    return routedLogSource({
      nodeId: "node-a",
      local,
      ownerOf: async (name) => {
        const owner = owners[name];
        if (!owner) throw new BlixardError("NOT_FOUND", `VM "${name}" not found`);
        return owner;
      },
      apiUrlOf: async (node) => (node === "node-b" ? urlB : undefined),
      token: token ?? undefined,
    });
  }

  async function collect(stream: AsyncIterable<string>): Promise<string[]> {
    const out: string[] = [];
    for await (const chunk of stream) out.push(chunk);
    return out;
  }

  async function rejection(promise: Promise<unknown>): Promise<BlixardError> {
    try {
      await promise;
    } catch (err) {
      if (isBlixardError(err)) return err;
      throw err;
    }
    throw new Error("expected a rejection");
  }

  const never = new AbortController().signal;

  it("sends no authorization header when there is no token", async () => {
    const b = await startNode({
      async *followVmLogs() {
        yield { text: "x" };
      },
    });
    await collect(source(b.url, fakeLocal().local, null).stream("db", 0).chunks);
    expect(b.auth).toEqual([undefined]);
  });

  it("streams a remote VM's log from its start when following from offset 0", async () => {
    const tails: number[] = [];
    const b = await startNode({
      async *followVmLogs(req) {
        tails.push(req.tail);
        yield { text: "one\n" };
        yield { text: "two\n" };
        yield { text: "three\n" };
      },
    });
    expect(await collect(source(b.url).follow("db", 0, never))).toEqual(["one\n", "two\n", "three\n"]);
    expect(tails).toEqual([0]);
    expect(b.auth).toEqual(["Bearer s3cret"]);
  });

  it("streams a remote VM's log from its node chunk by chunk, asking it to stop at the end", async () => {
    const asked: { tail: number; stopAtEnd: boolean }[] = [];
    const b = await startNode({
      async *followVmLogs(req) {
        asked.push({ tail: req.tail, stopAtEnd: req.stopAtEnd });
        yield { text: "one\n" };
        yield { text: "twö\n" };
      },
    });
    const stream = source(b.url).stream("db", 0);
    expect(await collect(stream.chunks)).toEqual(["one\n", "twö\n"]);
    expect(stream.offset()).toBe(Buffer.byteLength("one\ntwö\n"));
    expect(asked).toEqual([{ tail: 0, stopAtEnd: true }]);
    expect(b.auth).toEqual(["Bearer s3cret"]);
  });

  it("streams a local VM's log from the local source, never calling another node", async () => {
    const { local, calls } = fakeLocal();
    const stream = source(undefined, local).stream("web", 7);
    expect(await collect(stream.chunks)).toEqual(["local ", "log\n"]);
    expect(stream.offset()).toBe(10);
    expect(calls).toEqual(["stream web 7"]);
  });

  it("drops the remote's tail message when following past what the caller already has", async () => {
    const tails: number[] = [];
    const b = await startNode({
      async *followVmLogs(req) {
        tails.push(req.tail);
        yield { text: "last line\n" };
        yield { text: "new\n" };
      },
    });
    expect(await collect(source(b.url).follow("db", 42, never))).toEqual(["new\n"]);
    expect(tails).toEqual([1]);
  });

  it("serves a local VM from the local source without calling other nodes", async () => {
    const b = await startNode({
      async *followVmLogs() {
        yield { text: "wrong" };
      },
    });
    const { local, calls } = fakeLocal();
    const logs = source(b.url, local);
    expect(await collect(logs.stream("web", 5).chunks)).toEqual(["local ", "log\n"]);
    expect(await collect(logs.follow("web", 10, never))).toEqual(["local new\n"]);
    expect(calls).toEqual(["stream web 5", "follow web 10"]);
    expect(b.auth).toEqual([]);
  });

  it("cancels the remote stream when the follower aborts", async () => {
    let serverAborted = false;
    let resolveAborted!: () => void;
    const aborted = new Promise<void>((resolve) => {
      resolveAborted = resolve;
    });
    const b = await startNode({
      async *followVmLogs(_req, ctx) {
        ctx.signal.addEventListener("abort", () => {
          serverAborted = true;
          resolveAborted();
        });
        yield { text: "first\n" };
        // Follow forever, like a real node, until the caller goes away.
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      },
    });
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const chunk of source(b.url).follow("db", 0, controller.signal)) {
      seen.push(chunk);
      controller.abort();
    }
    expect(seen).toEqual(["first\n"]);
    await vi.waitFor(() => expect(serverAborted).toBe(true), { timeout: 5000 });
    await aborted;
  });

  it("fails UNAVAILABLE naming the node when the owner has no registered URL", async () => {
    const logs = source(undefined);
    for (const attempt of [collect(logs.follow("ghost", 0, never)), collect(logs.stream("db", 0).chunks)]) {
      const err = await rejection(attempt);
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.message).toMatch(/node "node-[bc]"/);
      expect(err.message).toContain("blixard node list");
    }
  });

  it("fails UNAVAILABLE naming the node and its URL when the owner is unreachable", async () => {
    const b = await startNode({});
    const [server] = servers.splice(0);
    server?.close();
    await once(server as Server, "close");
    const logs = source(b.url);
    for (const attempt of [collect(logs.follow("db", 0, never)), collect(logs.stream("db", 0).chunks)]) {
      const err = await rejection(attempt);
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.message).toContain(`node "node-b" at ${b.url}`);
      expect(err.message).toContain("may be down");
    }
  });

  it("keeps the code and message of the remote node's errors", async () => {
    const b = await startNode({
      // biome-ignore lint/correctness/useYield: fails before the first message
      async *followVmLogs(req) {
        if (req.stopAtEnd) throw new ConnectError('VM "db" has no state on this node', Code.NotFound);
        throw new ConnectError("missing or invalid bearer token", Code.Unauthenticated);
      },
    });
    const logs = source(b.url);
    const tail = await rejection(collect(logs.stream("db", 0).chunks));
    expect([tail.code, tail.message]).toEqual(["NOT_FOUND", 'VM "db" has no state on this node']);
    const follow = await rejection(collect(logs.follow("db", 0, never)));
    expect([follow.code, follow.message]).toEqual(["UNAUTHENTICATED", "missing or invalid bearer token"]);
  });

  it("lets VmService print a remote VM's tail once, then only new output", async () => {
    // Node B runs the real handlers over a console log that grows after the tail is read.
    const log = ["boot 1\n", "boot 2\n", "login: "];
    const remoteLogs: LogSource = {
      stream(_name, lines) {
        return textStream(lines === 0 ? log : log.slice(-lines), Buffer.byteLength(log.join("")));
      },
      async *follow() {
        yield "root\n";
        yield "# ";
      },
    };
    const deps = { repo: { get: async () => ({}) } as unknown as VmRepository } as VmServiceDeps;
    const b = await startNode(withErrorMapping(vmServiceImpl({ ...deps, logs: remoteLogs })));
    // Node A's VmService, serving logs through the routed source.
    const a = createClient(
      VmService,
      createRouterTransport((router) =>
        router.service(VmService, withErrorMapping(vmServiceImpl({ ...deps, logs: source(b.url) }))),
      ),
    );
    const texts = async (tail: number) => {
      const out: string[] = [];
      for await (const res of a.followVmLogs({ name: "db", tail })) out.push(res.text);
      return out.join("");
    };
    expect(await texts(2)).toBe("boot 2\nlogin: root\n# ");
    expect(await texts(0)).toBe("boot 1\nboot 2\nlogin: root\n# ");
    expect((await a.getVmLogs({ name: "db", tail: 1 })).text).toBe("login: ");
    // An empty log: everything the remote streams is new.
    log.length = 0;
    expect(await texts(5)).toBe("root\n# ");
  });

  it("in a cluster with a PKI, refuses a plain-HTTP owner URL and never sends the token (a store writer repointed apiUrl)", async () => {
    const remote = await startNode({
      async *followVmLogs() {
        yield { text: "secret console" };
      },
    });
    const source = routedLogSource({
      nodeId: "node-a",
      local: {
        stream: () => textStream([], 0),
        follow: async function* () {},
      },
      ownerOf: async () => "node-b",
      apiUrlOf: async () => remote.url,
      token: "admin-token-must-not-leak",
      tls: { caPem: "unused", certPem: "unused", keyPem: "unused" },
    });
    await expect(collect(source.stream("web", 10).chunks)).rejects.toThrow(/plain-HTTP API URL/);
    expect(remote.auth).toEqual([]);
  });
});
