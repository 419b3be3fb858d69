/**
 * The node's function gateway (agent/functions/function-gateway.ts) on its own listener
 * (`--gateway-bind`, 127.0.0.1:7080 by default), and how it reaches instances: an instance on this
 * node at its forward on this node's loopback; an instance on another node through that node's API
 * (`/fn-peer/<vm>/...`) over the cluster's mutual TLS with this node's certificate, never in clear on
 * the network. A gateway bound beyond loopback serves HTTPS only.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { request as httpsRequest } from "node:https";
import { FunctionGateway, type GatewayResult } from "../agent/functions/function-gateway.js";
import { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import { nodeRecordCodec } from "../core/store-codecs.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import { type Handler, type ListeningServer, listen, type ServerTls } from "./http-server.js";
import { isLoopback } from "./node-options.js";

export interface GatewayServerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  /** "off": no listener, but instances on this node still serve other nodes' gateways. */
  bind: { host: string; port: number } | "off";
  tls: ServerTls | undefined;
  domain: string;
  lease: () => number | undefined;
  onResult?: (result: GatewayResult) => void;
}

export interface GatewayServer {
  gateway: FunctionGateway;
  server: ListeningServer | undefined;
  close(): Promise<void>;
}

export async function startGatewayServer(opts: GatewayServerOptions): Promise<GatewayServer> {
  const bind = opts.bind === "off" ? undefined : opts.bind;
  if (bind && !isLoopback(bind.host) && !opts.tls) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `--gateway-bind ${bind.host}: a gateway beyond loopback needs TLS, which this node has only in a cluster (--cluster-init, --join) or with --bind beyond loopback; bind it to 127.0.0.1`,
    );
  }
  const local = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  const peer = opts.tls ? nodeHttpsAgent(opts.tls) : undefined;
  const apiUrls = new Map<string, { url: string; at: number }>();
  const apiUrlOf = async (node: string): Promise<string> => {
    const cached = apiUrls.get(node);
    if (cached && opts.clock.now() - cached.at < 10_000) return cached.url;
    const kv = await opts.store.get(keys.node(node));
    const record = kv ? nodeRecordCodec.decode(kv.value) : undefined;
    if (!record?.ok) throw new BlixardError("UNAVAILABLE", `node ${node} has no readable registration`);
    apiUrls.set(node, { url: record.value.apiUrl, at: opts.clock.now() });
    return record.value.apiUrl;
  };
  const gateway = new FunctionGateway({
    store: opts.store,
    clock: opts.clock,
    logger: opts.logger,
    nodeId: opts.nodeId,
    lease: opts.lease,
    domain: () => opts.domain,
    ...(opts.onResult ? { onResult: opts.onResult } : {}),
    connect: async (target, req) => {
      if (target.node === opts.nodeId) {
        return httpRequest({
          host: "127.0.0.1",
          port: target.port,
          method: req.method,
          path: req.path,
          headers: req.headers,
          agent: local,
        });
      }
      const base = await apiUrlOf(target.node);
      if (!peer || !base.startsWith("https://")) {
        throw new BlixardError(
          "UNAVAILABLE",
          `instance ${target.vm} is on node ${target.node}, which this node reaches only over TLS`,
        );
      }
      const url = new URL(`/fn-peer/${target.vm}${req.path}`, base);
      return httpsRequest(url, {
        method: req.method,
        headers: { ...req.headers, host: url.host },
        agent: peer,
      });
    },
  });
  await gateway.start();
  let server: ListeningServer | undefined;
  try {
    if (bind) {
      server = await listen(
        gateway.handle.bind(gateway) as Handler,
        bind.host,
        bind.port,
        isLoopback(bind.host) ? undefined : opts.tls,
      );
    }
  } catch (err) {
    // A second node on one host (tests, a laptop cluster) finds the default port taken: it runs
    // without a gateway of its own rather than not at all, and says so.
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    opts.logger.warn(
      { bind: `${bind?.host}:${bind?.port}` },
      "gateway port in use; this node serves no function gateway (set --gateway-bind)",
    );
  }
  return {
    gateway,
    server,
    close: async () => {
      await server?.close();
      await gateway.stop();
      local.destroy();
      peer?.destroy();
    },
  };
}

/** The API's `/fn-peer/` handler, for a gateway started later than the API (it needs the lease). */
export function peerHandler(
  gateway: () => GatewayServer | undefined,
): (vm: string, path: string, req: IncomingMessage, res: ServerResponse) => void {
  return (vm, path, req, res) => {
    const g = gateway()?.gateway;
    if (!g) {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("this node's function gateway is not running\n");
      return;
    }
    void g.servePeer(vm, path, req, res).catch(() => res.destroy());
  };
}
