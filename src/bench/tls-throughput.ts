/**
 * What TLS costs the API: two single nodes on SQLite side by side, one on loopback (plain HTTP), one
 * bound to this host's own non-loopback address (HTTPS with a certificate from its CA, and a token, as
 * any node reachable from the network). The same VMs are fetched from each, over Connect (HTTP/1.1)
 * and gRPC (HTTP/2: h2c against ALPN h2), at the same concurrency, alternating rounds so that load
 * from other processes falls on both.
 */
import { Agent as HttpAgent } from "node:http";
import { networkInterfaces } from "node:os";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import { BenchNode } from "./bench-node.js";
import { pool } from "./pool.js";
import { median } from "./stats.js";

export interface TlsThroughput {
  host: string;
  count: number;
  concurrency: number;
  plainGetsPerSec: number;
  tlsGetsPerSec: number;
  plainGrpcGetsPerSec: number;
  tlsGrpcGetsPerSec: number;
}

/** A non-loopback IPv4 address of this host; undefined when it has none (the figure is then skipped). */
export function localNetworkAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .find((a) => a.family === "IPv4" && !a.internal)?.address;
}

function clients(node: BenchNode) {
  const token = node.token();
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const tls = node.tls();
  // One keep-alive agent each, as a long-lived client holds: connections (and TLS sessions) are reused.
  // A user's client: it verifies the node against the CA and presents no certificate (the token
  // authenticates it), as the CLI does.
  const agent = tls ? nodeHttpsAgent({ caPem: tls.caPem }) : new HttpAgent({ keepAlive: true });
  return {
    connect: createClient(
      VmService,
      createConnectTransport({
        baseUrl: node.url,
        httpVersion: "1.1",
        interceptors: [bearer],
        nodeOptions: { agent },
      }),
    ),
    grpc: createClient(
      VmService,
      createGrpcTransport({
        baseUrl: node.url,
        interceptors: [bearer],
        ...(tls ? { nodeOptions: { ca: tls.caPem } } : {}),
      }),
    ),
  };
}

export async function measureTlsThroughput(
  kernel: string,
  count: number,
  concurrency: number,
  rounds: number,
): Promise<TlsThroughput | undefined> {
  const host = localNetworkAddress();
  if (!host) return undefined;
  const plain = new BenchNode();
  const secure = new BenchNode();
  secure.host = host;
  try {
    await plain.start();
    await secure.start();
    if (!secure.url.startsWith("https://")) throw new Error(`${secure.url}: expected TLS beyond loopback`);
    const both = [clients(plain), clients(secure)] as const;
    for (const { connect } of both) {
      await pool(count, concurrency, (i) => connect.createVm({ spec: { name: `vm-${i}`, kernel } }));
    }
    const rates: number[][] = [[], [], [], []];
    for (let round = 0; round < rounds; round++) {
      for (const [index, c] of both.entries()) {
        rates[index]!.push(
          count / (await pool(count, concurrency, (i) => c.connect.getVm({ name: `vm-${i}` }))),
        );
        rates[index + 2]!.push(
          count / (await pool(count, concurrency, (i) => c.grpc.getVm({ name: `vm-${i}` }))),
        );
      }
    }
    return {
      host,
      count,
      concurrency,
      plainGetsPerSec: median(rates[0]!),
      tlsGetsPerSec: median(rates[1]!),
      plainGrpcGetsPerSec: median(rates[2]!),
      tlsGrpcGetsPerSec: median(rates[3]!),
    };
  } finally {
    await plain.stop();
    await secure.stop();
  }
}
