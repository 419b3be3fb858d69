/**
 * One listening port for everything: Connect and gRPC-Web over HTTP/1.1, gRPC over HTTP/2, plus
 * /healthz and /metrics.
 * - With TLS (a node in a cluster, or bound beyond loopback): one HTTPS server, ALPN choosing h2 or
 *   http/1.1. It asks for a client certificate but does not require one: nodes present theirs
 *   (peer-identity.ts reads it), the CLI and users authenticate with a token instead.
 * - Without TLS (a single node on loopback): cleartext, where the first bytes of a connection tell
 *   which protocol: an HTTP/2 client opens with the "PRI * HTTP/2.0" preface (h2c, prior knowledge).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttp1Server } from "node:http";
import {
  createServer as createHttp2Server,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";

export type Handler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

export interface ListeningServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** The server's certificate and key, and the CA that client certificates must chain to. */
export interface ServerTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function listen(
  handler: Handler,
  host: string,
  port: number,
  tls?: ServerTls,
): Promise<ListeningServer> {
  if (tls) return listenTls(handler, host, port, tls);
  const h1 = createHttp1Server(handler as (req: IncomingMessage, res: ServerResponse) => void);
  h1.keepAliveTimeout = 5_000;
  const h2 = createHttp2Server(handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  const sockets = new Set<Socket>();
  const server: Server = createNetServer({ pauseOnConnect: true }, (socket) => {
    // No Nagle: replies are small. HTTP/2 behind the sniffing stream below cannot set it on the socket
    // itself, and with Nagle on, each gRPC call waited out the client's delayed ACK (~40 ms a call).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("error", () => socket.destroy());
    dispatch(socket, h1, h2);
  });
  return bind(server, sockets, host, port);
}

async function listenTls(
  handler: Handler,
  host: string,
  port: number,
  tls: ServerTls,
): Promise<ListeningServer> {
  const server = createSecureServer(
    {
      allowHTTP1: true,
      key: tls.keyPem,
      cert: tls.certPem,
      ca: tls.caPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      // No Nagle, as on the cleartext path: replies are small and each would wait out the client's
      // delayed ACK (~40 ms a request). Set at accept, before TLS wraps the socket: a setNoDelay on
      // the raw socket in a 'connection' listener comes after the wrap and is lost.
      noDelay: true,
    },
    handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  // A client that fails the handshake (no TLS, a bad certificate) only loses its own connection.
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  return bind(server, sockets, host, port);
}

/** Listens, and closes by also destroying the open connections (keep-alive would hold the close). */
async function bind(
  server: Server | Http2SecureServer,
  sockets: Set<Socket>,
  host: string,
  port: number,
): Promise<ListeningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    host,
    port: typeof address === "object" && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function dispatch(
  socket: Socket,
  h1: ReturnType<typeof createHttp1Server>,
  h2: ReturnType<typeof createHttp2Server>,
): void {
  let head = Buffer.alloc(0);
  const onReadable = () => {
    let chunk: Buffer | null;
    // biome-ignore lint/suspicious/noAssignInExpressions: the standard read loop
    while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
    const decided = head.length >= H2_PREFACE.length || !H2_PREFACE.subarray(0, head.length).equals(head);
    if (!decided) return;
    socket.off("readable", onReadable);
    if (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) {
      h2.emit("connection", replayingStream(socket, head));
      return;
    }
    socket.unshift(head);
    h1.emit("connection", socket);
    socket.resume();
  };
  socket.on("readable", onReadable);
}

/**
 * HTTP/2 reads from the socket's native handle, so bytes we already read to sniff the protocol would be
 * lost to it. A JS stream that replays them first and then relays the socket keeps the session whole.
 */
function replayingStream(socket: Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  stream.push(head);
  socket.on("data", (data: Buffer) => {
    if (!stream.push(data)) socket.pause();
  });
  socket.once("end", () => stream.push(null));
  socket.once("close", () => stream.destroy());
  socket.resume();
  return stream;
}
