/** Polls a VM until a condition holds, showing its phase as progress; fails fast when it fails. */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Vm } from "../gen/blixard/v1/vm_pb.js";
import type { VmClient } from "./client.js";
import { progress } from "./progress.js";

const POLL_MS = 250;

export type Condition = (vm: Vm | undefined) => "done" | "waiting" | { failed: string };

export async function waitFor(
  client: VmClient,
  name: string,
  what: string,
  condition: Condition,
  timeoutSeconds: number,
): Promise<Vm | undefined> {
  const bar = progress();
  const deadline = Date.now() + timeoutSeconds * 1000;
  try {
    for (;;) {
      const vm = await getOrUndefined(client, name);
      const state = condition(vm);
      if (state === "done") {
        bar.done();
        return vm;
      }
      if (state !== "waiting") throw new Error(state.failed);
      const phase = vm?.status?.phase ?? "gone";
      const health = vm?.status?.health && vm.status.health !== "none" ? `, health ${vm.status.health}` : "";
      const message = vm?.status?.message ? `: ${vm.status.message}` : "";
      bar.update(`${name}: waiting for ${what} (phase ${phase}${health}${message})`);
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutSeconds}s waiting for ${name} to be ${what} (phase ${phase}${message}); see: blixard vm logs ${name}`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (err) {
    bar.done();
    throw err;
  }
}

async function getOrUndefined(client: VmClient, name: string): Promise<Vm | undefined> {
  try {
    return (await client.getVm({ name })).vm;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

/** Running, and healthy too when the VM has a health check. With `previousStart`, a new start is required. */
export function ready(previousStart?: string): Condition {
  return (vm) => {
    if (!vm) return { failed: "the VM was deleted while we waited" };
    const s = vm.status;
    if (!s) return "waiting";
    if (s.phase === "Failed" && !s.nextRestartAt) return { failed: `VM ${vm.name} failed: ${s.message}` };
    if (previousStart !== undefined && (!s.startedAt || s.startedAt === previousStart)) return "waiting";
    if (s.phase !== "Running") return "waiting";
    return vm.spec?.healthCheck && s.health !== "healthy" ? "waiting" : "done";
  };
}

export const stopped: Condition = (vm) => {
  if (!vm) return { failed: "the VM was deleted while we waited" };
  const phase = vm.status?.phase;
  return phase === "Stopped" || phase === "Failed" ? "done" : "waiting";
};

export const gone: Condition = (vm) => (vm ? "waiting" : "done");
