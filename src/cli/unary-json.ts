/**
 * One unary call in the Connect protocol with a JSON body (connectrpc.com/docs/protocol): a POST of
 * the request as JSON to /<service>/<method>, answered with the reply as JSON or a Connect error.
 *
 * Why not the Connect client: loading it with the generated descriptors takes ~0.1 s, most of the
 * CLI's start-up, and `vm start|stop|restart|delete` are on the path from a command to a booted guest
 * (the start-overhead benchmark). Their replies need no typed decoding, so they use this call and
 * load Connect only to wait or when something failed. A failure becomes the same ConnectError the
 * Connect client throws (same codes, same messages), so cli-error.ts prints the same line.
 */
import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import { type Endpoint, endpoint } from "./credentials.js";
import type { GlobalOptions } from "./globals.js";

/** A reply larger than this is refused: a reply to these calls is one VM record (a few KiB). */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

export type JsonObject = Record<string, unknown>;

export async function unaryJson(
  options: GlobalOptions,
  service: string,
  method: string,
  message: JsonObject,
): Promise<JsonObject> {
  return callEndpoint(endpoint(options), `${service}/${method}`, message);
}

export async function callEndpoint(to: Endpoint, path: string, message: JsonObject): Promise<JsonObject> {
  const url = new URL(`${to.baseUrl.replace(/\/+$/, "")}/${path}`);
  const body = Buffer.from(JSON.stringify(message));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "connect-protocol-version": "1",
    "content-length": String(body.length),
  };
  if (to.token) headers["authorization"] = `Bearer ${to.token}`;
  let res: IncomingMessage;
  let reply: Buffer;
  try {
    res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req =
        url.protocol === "https:"
          ? httpsRequest(url, {
              method: "POST",
              headers,
              ...(to.ca !== undefined ? { agent: nodeHttpsAgent({ caPem: to.ca }) } : {}),
            })
          : httpRequest(url, { method: "POST", headers });
      req.once("response", resolve);
      req.once("error", reject);
      req.end(body);
    });
    reply = await readReply(res);
  } catch (err) {
    throw await errorFromNode(err);
  }
  if (res.statusCode === 200 && /^application\/json(;|$)/i.test(res.headers["content-type"] ?? "")) {
    const parsed: unknown = reply.length === 0 ? {} : JSON.parse(reply.toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as JsonObject;
  }
  throw await errorFromReply(res.statusCode ?? 0, res.headers["content-type"], reply);
}

async function readReply(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REPLY_BYTES) {
      res.destroy();
      throw new Error(`the node's reply exceeded ${MAX_REPLY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** As the Connect client reads a failed unary call: the JSON error body, else a code from the status. */
async function errorFromReply(status: number, contentType: string | undefined, body: Buffer): Promise<Error> {
  const { Code, ConnectError } = await import("@connectrpc/connect");
  const { codeFromHttpStatus, errorFromJsonBytes } = await import("@connectrpc/connect/protocol-connect");
  if (status === 200) {
    return new ConnectError(`unexpected reply content type "${contentType ?? ""}"`, Code.Internal);
  }
  const fallback = new ConnectError(`HTTP ${status}`, codeFromHttpStatus(status));
  try {
    return errorFromJsonBytes(body, undefined, fallback);
  } catch {
    return fallback;
  }
}

/** As connect-node names a failed connection (its node-error.ts): refused or unresolved is Unavailable. */
async function errorFromNode(reason: unknown): Promise<Error> {
  const { Code, ConnectError } = await import("@connectrpc/connect");
  if (reason instanceof ConnectError) return reason;
  const errno = (reason as NodeJS.ErrnoException | undefined)?.code;
  const code =
    errno === "ECONNRESET"
      ? Code.Aborted
      : errno === "ETIMEDOUT" || errno === "ENOTFOUND" || errno === "EAI_AGAIN" || errno === "ECONNREFUSED"
        ? Code.Unavailable
        : Code.Internal;
  const err = ConnectError.from(reason, code);
  if (err !== reason) err.cause = reason;
  return err;
}
