/**
 * End-to-end failover on real VMs: a VM with an HTTP health check runs on a 3-node cluster with the
 * default lease TTL (5 s) and failover grace (5 s); its host is lost (the daemon, its qemu processes and
 * its etcd member SIGKILLed by pid); the time runs until the VM passes its health check on another node.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { type BenchNode, formCluster, freePort, waitFor } from "./bench-node.js";

export interface FailoverFigures {
  ttlSeconds: number;
  graceSeconds: number;
  /** From the SIGKILL to the VM healthy on another node. */
  failoverMs: number;
}

export async function measureFailover(kernel: string, initrd: string): Promise<FailoverFigures> {
  const nodes = await formCluster(3);
  try {
    const vms = (node: BenchNode) =>
      createClient(
        VmService,
        createConnectTransport({ baseUrl: node.url, httpVersion: "1.1", interceptors: node.auth() }),
      );
    const port = await freePort();
    await vms(nodes[0]!).createVm({
      start: true,
      spec: {
        name: "svc",
        kernel,
        initrd,
        memory: 128,
        forwards: [{ host: port, guest: 80, protocol: "tcp" }],
        healthCheck: { type: "http", port: 80, path: "/", intervalSeconds: 0.5 },
      },
    });
    const healthyOn = async (via: BenchNode) => {
      const { vm } = await vms(via)
        .getVm({ name: "svc" })
        .catch(() => ({ vm: undefined }));
      return vm?.status?.phase === "Running" && vm.status.health === "healthy" ? vm.status.node : undefined;
    };
    let home = "";
    await waitFor(
      "svc to be healthy",
      async () => {
        home = (await healthyOn(nodes[0]!)) ?? "";
        return home !== "";
      },
      120_000,
    );
    const lost = nodes.find((n) => n.id === home)!;
    const survivor = nodes.find((n) => n !== lost)!;
    const lostAt = performance.now();
    await lost.stop();
    await waitFor(
      "svc to be healthy elsewhere",
      async () => {
        const node = await healthyOn(survivor);
        return node !== undefined && node !== home;
      },
      120_000,
    );
    return { ttlSeconds: 5, graceSeconds: 5, failoverMs: performance.now() - lostAt };
  } finally {
    for (const node of nodes) await node.stop();
  }
}
