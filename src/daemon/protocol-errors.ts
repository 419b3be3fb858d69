/**
 * Connect answers two kinds of malformed request with `internal` (HTTP 500): a binary body that does
 * not parse as the request message ("parse binary: ...") and a compressed body that does not
 * decompress ("decompression failed"). Both are the client's fault, and a 500 reads as the node being
 * broken (and would page someone), so this wrapper rewrites exactly those two replies to
 * `invalid_argument` (HTTP 400) with the same message. Every other reply passes through untouched,
 * including real internal errors. Unary Connect replies only: gRPC reports errors in trailers.
 */
import type { Handler } from "./http-server.js";

const CLIENT_FAULTS = /^(parse binary: |decompression failed)/;

type Loose = (...args: unknown[]) => unknown;

export function protocolErrorsAsInvalidArgument(next: Handler): Handler {
  return (req, res) => {
    if (String(req.headers["content-type"] ?? "").startsWith("application/grpc")) return next(req, res);
    const r = res as unknown as Record<"writeHead" | "write" | "end", Loose>;
    const writeHead = r.writeHead.bind(r) as Loose;
    const write = r.write.bind(r) as Loose;
    const end = r.end.bind(r) as Loose;
    let held: unknown[] | undefined;
    const body: Buffer[] = [];
    r.writeHead = (...args: unknown[]) => {
      if (args[0] !== 500) return writeHead(...args);
      held = args;
      return r;
    };
    r.write = (...args: unknown[]) => {
      if (!held) return write(...args);
      if (args[0] instanceof Uint8Array || typeof args[0] === "string") body.push(Buffer.from(args[0]));
      return true;
    };
    r.end = (...args: unknown[]) => {
      if (!held) return end(...args);
      if (args[0] instanceof Uint8Array || typeof args[0] === "string") body.push(Buffer.from(args[0]));
      const original = Buffer.concat(body);
      const rewritten = rewrite(original);
      if (rewritten === undefined) {
        writeHead(...held);
        return end(original);
      }
      writeHead(400, { "content-type": "application/json" });
      return end(rewritten);
    };
    next(req, res);
  };
}

function rewrite(body: Buffer): string | undefined {
  try {
    const error = JSON.parse(body.toString()) as { code?: unknown; message?: unknown };
    if (error.code !== "internal" || typeof error.message !== "string") return undefined;
    if (!CLIENT_FAULTS.test(error.message)) return undefined;
    return JSON.stringify({ code: "invalid_argument", message: `malformed request body: ${error.message}` });
  } catch {
    return undefined;
  }
}
