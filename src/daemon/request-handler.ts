/**
 * The node's HTTP handler: bearer-token check (when required), /healthz, /metrics, and the Connect
 * routes for everything else.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Registry } from "prom-client";
import type { Handler } from "./http-server.js";

export interface RequestHandlerOptions {
  connect: Handler;
  registry: Registry;
  /** When set, every request but /healthz must carry `Authorization: Bearer <token>`. */
  token: string | undefined;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export function createRequestHandler(options: RequestHandlerOptions): Handler {
  const expected = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;
  return (req: Req, res: Res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") return reply(res, 200, "text/plain", "ok\n");
    if (expected && !authorized(req.headers["authorization"], expected)) {
      return reply(
        res,
        401,
        "text/plain",
        "unauthorized: send Authorization: Bearer <token> (see BLIXARD_TOKEN)\n",
      );
    }
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => reply(res, 200, options.registry.contentType, text),
        (err: unknown) => reply(res, 500, "text/plain", `metrics failed: ${String(err)}\n`),
      );
      return;
    }
    options.connect(req, res);
  };
}

function authorized(header: string | string[] | undefined, expected: Buffer): boolean {
  if (typeof header !== "string") return false;
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function reply(res: Res, status: number, type: string, body: string): void {
  (res as ServerResponse).writeHead(status, { "content-type": type });
  res.end(body);
}
