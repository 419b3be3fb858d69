/**
 * Raw HTTP requests to a node's API for tests of what a hostile client can send: bodies streamed from
 * a generator (so the test never holds them whole), any headers, and a reply read even when the node
 * answers before the body is sent and closes the connection.
 */

import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The node's admin token, for requests that must get past authentication to reach the limits. */
export function bearer(dataDir: string): Record<string, string> {
  return { authorization: `Bearer ${readFileSync(join(dataDir, "token"), "utf8").trim()}` };
}

export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Uint8Array | Iterable<Uint8Array> },
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    let replied = false;
    const req = request(url, { method: options.method ?? "POST", headers: options.headers }, (res) => {
      replied = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        // The test needs the message, not a body as large as the one it sent.
        if (size < 65536) chunks.push(c);
        size += c.length;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on("error", reject);
    });
    // The node may answer and close before the body is sent: that is the point, not a failure.
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
      // Reset before any reply: say so rather than hang (the test then fails on the status).
      else if (!replied) resolve({ status: 0, headers: {}, body: `connection ${err.code} before a reply` });
    });
    const body = options.body;
    if (body === undefined) {
      req.end();
      return;
    }
    if (body instanceof Uint8Array) {
      req.end(body);
      return;
    }
    const chunks = body[Symbol.iterator]();
    const pump = () => {
      for (;;) {
        if (req.destroyed) return;
        const next = chunks.next();
        if (next.done) {
          req.end();
          return;
        }
        if (!req.write(next.value)) {
          req.once("drain", pump);
          return;
        }
      }
    };
    pump();
  });
}

/** `count` chunks of `size` bytes of `fill`, made lazily. */
export function* repeated(fill: string, size: number, count: number): Generator<Uint8Array> {
  const chunk = Buffer.alloc(size, fill);
  for (let i = 0; i < count; i++) yield chunk;
}

/** Resident memory of a process, in bytes (VmRSS from /proc). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}
