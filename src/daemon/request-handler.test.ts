import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { type ListeningServer, listen } from "./http-server.js";
import { createRequestHandler } from "./request-handler.js";

describe("request handler", () => {
  let server: ListeningServer | undefined;
  afterEach(async () => server?.close());

  async function serve(token: string | undefined): Promise<string> {
    const connect = (_req: unknown, res: { writeHead(s: number): void; end(b: string): void }) => {
      res.writeHead(200);
      res.end("api");
    };
    server = await listen(
      createRequestHandler({ connect: connect as never, registry: new Registry(), token }),
      "127.0.0.1",
      0,
    );
    return `http://127.0.0.1:${server.port}`;
  }

  it("serves /healthz without a token", async () => {
    const url = await serve("secret");
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
  });

  it("rejects API calls without the bearer token when one is required", async () => {
    const url = await serve("secret");
    expect((await fetch(`${url}/blixard.v1.VmService/ListVms`, { method: "POST" })).status).toBe(401);
    const wrong = await fetch(`${url}/metrics`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${url}/blixard.v1.VmService/ListVms`, {
      method: "POST",
      headers: { authorization: "Bearer secret" },
    });
    expect(await ok.text()).toBe("api");
  });

  it("serves Prometheus metrics", async () => {
    const url = await serve(undefined);
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
  });
});
