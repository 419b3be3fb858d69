/**
 * Following a drain: each VM taken off the node is stopped there, then placed and started elsewhere.
 * Prints a line per VM as it lands (stdout), with a live status line while it waits (stderr, on a
 * terminal), and fails when the timeout passes first. A VM that fits nowhere is reported, not waited on.
 */
import type { Vm } from "../gen/blixard/v1/vm_pb.js";
import type { VmClient } from "./client.js";
import { progress } from "./progress.js";

const POLL_MS = 500;

/** Where a drained VM stands: still leaving, landed on another node, or placed nowhere. */
export function drainState(
  vm: Vm | undefined,
  from: string,
): "leaving" | { landed: string } | { stuck: string } | "gone" {
  if (!vm) return "gone";
  const status = vm.status;
  const node = status?.node ?? "";
  if (node === "" || node === from) {
    return status?.message.startsWith("no node can run") ? { stuck: status.message } : "leaving";
  }
  const settled = vm.desiredState === "running" ? status?.phase === "Running" : status?.phase === "Stopped";
  return settled ? { landed: node } : "leaving";
}

export async function followDrain(
  client: VmClient,
  from: string,
  names: readonly string[],
  timeoutSeconds: number,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  const bar = progress();
  const pending = new Set(names);
  const deadline = Date.now() + timeoutSeconds * 1000;
  try {
    while (pending.size > 0) {
      for (const name of [...pending]) {
        const vm = await client.getVm({ name }).then(
          (res) => res.vm,
          () => undefined,
        );
        const state = drainState(vm, from);
        if (state === "leaving") continue;
        pending.delete(name);
        const done = names.length - pending.size;
        if (state === "gone") write(`[${done}/${names.length}] vm/${name} was deleted`);
        else if ("landed" in state) write(`[${done}/${names.length}] vm/${name} moved to ${state.landed}`);
        else write(`[${done}/${names.length}] vm/${name} is Pending: ${state.stuck}`);
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutSeconds}s with ${pending.size} VM(s) still leaving ${from}: ${[...pending].join(", ")}; ` +
            "follow them with: blixard vm list",
        );
      }
      bar.update(`draining ${from}: ${names.length - pending.size}/${names.length} moved`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    bar.done();
  }
}
