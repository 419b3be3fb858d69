/**
 * Refuses request bodies larger than the node accepts, before reading them. Connect enforces the same
 * limit (`readMaxBytes`) on what it reads and on what a compressed body expands to; this guard answers
 * a body whose Content-Length already says it is too large at once, with 413 and a Connect error body.
 * The rest of the body is then discarded as it arrives (never buffered), up to LINGER_BYTES, before the
 * connection is cut: closing at once makes the kernel reset the connection while the client is still
 * sending, and the client may lose the 413 that explains why (nginx's "lingering close" does the same).
 * gRPC bodies pass through: Connect checks each gRPC message's length prefix before buffering it.
 */
import type { ServerResponse } from "node:http";
import type { Handler } from "./http-server.js";

/** 1 MiB: the largest valid VM spec (64 KiB of inline Nix plus bounded lists) fits many times over. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/** How much of a refused body is read and dropped before the connection is closed. */
const LINGER_BYTES = 16 * 1024 * 1024;

export function limitRequestBodies(next: Handler, maxBytes: number): Handler {
  return (req, res) => {
    const declared = Number(req.headers["content-length"]);
    const grpc = String(req.headers["content-type"] ?? "").startsWith("application/grpc");
    if (!grpc && Number.isFinite(declared) && declared > maxBytes) {
      const message = `request body is ${declared} bytes; this node accepts at most ${maxBytes} (set with blixard node --max-request-bytes)`;
      let discarded = 0;
      req.on("data", (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > LINGER_BYTES) req.socket.destroy();
      });
      (res as ServerResponse).writeHead(413, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "resource_exhausted", message }));
      return;
    }
    next(req, res);
  };
}
