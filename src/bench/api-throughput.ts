/** API throughput on the SQLite store: VM creates/s and gets/s over real HTTP at a fixed concurrency. */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { BenchNode } from "./bench-node.js";
import { pool } from "./pool.js";

export interface ApiThroughput {
  count: number;
  concurrency: number;
  createsPerSec: number;
  getsPerSec: number;
  /** The same gets over gRPC (HTTP/2, h2c), as grpc clients call. */
  grpcGetsPerSec: number;
  listMs: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
}

export async function measureApiThroughput(
  kernel: string,
  count: number,
  concurrency: number,
): Promise<ApiThroughput> {
  const node = new BenchNode();
  await node.start();
  try {
    const client = createClient(
      VmService,
      createConnectTransport({ baseUrl: node.url, httpVersion: "1.1", interceptors: node.auth() }),
    );
    await client.listVms({});
    const rssBeforeKiB = await node.settledRssKiB();
    const createSecs = await pool(count, concurrency, (i) =>
      client.createVm({ spec: { name: `vm-${i}`, kernel } }),
    );
    const getSecs = await pool(count, concurrency, (i) => client.getVm({ name: `vm-${i}` }));
    const grpc = createClient(
      VmService,
      createGrpcTransport({ baseUrl: node.url, interceptors: node.auth() }),
    );
    const grpcSecs = await pool(count, concurrency, (i) => grpc.getVm({ name: `vm-${i}` }));
    const t0 = performance.now();
    const { vms } = await client.listVms({});
    const listMs = performance.now() - t0;
    if (vms.length !== count) throw new Error(`expected ${count} VMs, listed ${vms.length}`);
    // Let the agent finish reconciling every new VM before reading its memory.
    await new Promise((r) => setTimeout(r, 2000));
    const rssAfterKiB = await node.settledRssKiB();
    return {
      count,
      concurrency,
      createsPerSec: count / createSecs,
      getsPerSec: count / getSecs,
      grpcGetsPerSec: count / grpcSecs,
      listMs,
      rssBeforeKiB,
      rssAfterKiB,
    };
  } finally {
    await node.stop();
  }
}
