/** What `blixard node list|get|cordon|uncordon|drain` do: calls to the NodeService, loaded when one runs. */
import { nodeClient, vmClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
import { nodeJson, nodeTable, outputFormat, printData } from "./output.js";
import { TerminalSanitizer } from "./terminal-safe.js";

export async function listNodes(options: GlobalOptions, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const { nodes } = await nodeClient(options).listNodes({});
  await printData(format, nodes.map(nodeJson), () => nodeTable(nodes));
}

export async function getNode(options: GlobalOptions, id: string, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const { node: found } = await nodeClient(options).getNode({ id });
  if (!found) throw new Error(`the node returned no member for ${id}`);
  await printData(format, nodeJson(found), () => nodeTable([found]) + cephLine(found));
}

export async function cordonNode(options: GlobalOptions, id: string): Promise<void> {
  await nodeClient(options).cordonNode({ id });
  process.stdout.write(`node/${id} cordoned\n`);
}

export async function uncordonNode(options: GlobalOptions, id: string): Promise<void> {
  await nodeClient(options).uncordonNode({ id });
  process.stdout.write(`node/${id} uncordoned\n`);
}

export async function drainNode(
  options: GlobalOptions,
  id: string,
  flags: { wait: boolean; timeout: string },
): Promise<void> {
  const { vms } = await nodeClient(options).drainNode({ id });
  process.stdout.write(
    `node/${id} cordoned; moving ${vms.length} VM(s)${vms.length ? `: ${vms.join(", ")}` : ""}\n`,
  );
  if (!flags.wait || vms.length === 0) return;
  const { followDrain } = await import("./drain.js");
  await followDrain(vmClient(options), id, vms, Number(flags.timeout));
  process.stdout.write(`node/${id} drained\n`);
}

/** Under `node get`'s table: whether the node reaches Ceph for RBD volumes (when it was given one). */
function cephLine(node: { ceph?: { reachable: boolean; reason: string; pool: string } | undefined }): string {
  if (!node.ceph) return "";
  return node.ceph.reachable
    ? `ceph: reachable (pool ${node.ceph.pool})\n`
    : `ceph: unreachable: ${new TerminalSanitizer().write(node.ceph.reason.replaceAll("\n", " "))}\n`;
}
