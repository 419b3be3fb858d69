/**
 * Forwards one HTTP request to an instance and its answer back, streaming both bodies (nothing is
 * buffered whole). An instance that dies or resets the connection before answering fails the request
 * with a 502 that names it; after the answer started, the client's connection is cut, which is the
 * only way HTTP/1.1 can say that a body was truncated.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

/** Headers of one connection, not of the request: never forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  return out;
}

export type Outcome = { ok: true; status: number } | { ok: false; status: number; reason: string };

/**
 * Pipes `req` into `upstream` and the answer into `res`; resolves with what the client got. `what`
 * names the instance in a 502.
 */
export function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: ClientRequest,
  what: string,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    upstream.on("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, { ...endToEnd(answer.headers), "x-blixard-instance": what });
      answer.pipe(res);
      answer.on("error", () => res.destroy());
      answer.on("aborted", () => res.destroy());
      res.on("close", () => {
        if (!answer.complete) {
          answer.destroy();
          done({ ok: false, status: 502, reason: `instance ${what} stopped answering mid-body` });
        } else done({ ok: true, status: answer.statusCode ?? 502 });
      });
    });
    upstream.on("error", (err) => {
      if (res.headersSent) {
        res.destroy();
        done({ ok: false, status: 502, reason: `instance ${what} failed mid-answer: ${err.message}` });
        return;
      }
      const reason = `instance ${what} failed before answering (${err.message}); the request may be retried`;
      reply(res, 502, reason);
      done({ ok: false, status: 502, reason });
    });
    // A client that goes away takes its request to the instance with it.
    req.on("aborted", () => upstream.destroy());
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
}

/** A plain-text answer from the gateway itself (no instance involved). */
export function reply(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-blixard-gateway": "1" });
  res.end(`${message}\n`);
}
