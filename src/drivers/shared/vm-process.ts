/**
 * What the drivers share about a VM's detached process: whether the pid their launch record names is
 * still that VM's (see process-probe.ts), and its exit status when this process spawned it.
 */
import type { Clock } from "../../ports/clock.js";
import type { VmRuntime } from "../../ports/vm-driver.js";
import { withTimeout } from "./poll.js";
import { isVmProcess } from "./process-probe.js";
import type { OwnChild } from "./spawn-vm-process.js";

/** How long inspect waits for Node to reap a child that has just died, so its status is known. */
export const REAP_GRACE_MS = 1_000;

export interface ProcessFacts {
  stateDir: string;
  /** From the launch record or pidfile; undefined when nothing was ever started. */
  pid: number | undefined;
  startedAt: number | undefined;
  /** The child with that pid if this process spawned it. */
  own: OwnChild | undefined;
  clock: Clock;
}

export async function processRuntime(facts: ProcessFacts): Promise<VmRuntime> {
  const { pid, own, clock } = facts;
  if (pid === undefined) return { state: "absent" };
  if (await isVmProcess(pid, facts.stateDir)) {
    return { state: "running", pid, startedAt: facts.startedAt ?? clock.now() };
  }
  if (own?.pid === pid) {
    const exit = own.exit ?? (await withTimeout(clock, own.exited, REAP_GRACE_MS));
    if (exit) return { state: "exited", exit };
  }
  return { state: "exited", exit: { code: null, signal: null, known: false } };
}
