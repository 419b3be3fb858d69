/** The node's resident memory per running VM: RSS with K booted, healthy VMs against RSS with none. */
import { BenchNode, waitFor } from "./bench-node.js";

export interface AgentMemory {
  vms: number;
  idleKiB: number;
  loadedKiB: number;
}

export async function measureAgentMemory(kernel: string, initrd: string, vms: number): Promise<AgentMemory> {
  const node = new BenchNode();
  await node.start();
  try {
    node.cli("vm", "list");
    const idleKiB = await node.settledRssKiB();
    for (let i = 0; i < vms; i++) {
      node.cli(
        "vm",
        "create",
        `mem-${i}`,
        "--kernel",
        kernel,
        "--initrd",
        initrd,
        "--memory",
        "128",
        "--start",
        "--no-wait",
      );
    }
    await waitFor(
      "every VM to boot",
      () =>
        Array.from({ length: vms }, (_, i) => node.consoleLog(`mem-${i}`)).every((l) =>
          l.includes("BLIXARD-READY"),
        ),
      300_000,
    );
    return { vms, idleKiB, loadedKiB: await node.settledRssKiB() };
  } finally {
    await node.stop();
  }
}
