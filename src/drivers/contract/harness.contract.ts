/**
 * What the VmDriver contract suites share: the harness a driver provides, a per-test context over
 * it, and helpers that wait for a guest in real time, so that the same cases run against the
 * in-memory driver (instant) and real guests under TCG (seconds).
 */
import { afterEach, beforeEach, expect } from "vitest";
import type { ErrorCode } from "../../core/errors.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type { StopOptions, VmDriver, VmRuntime } from "../../ports/vm-driver.js";

export interface DriverHarness {
  /** The driver under test, over a node with no VM state at all. */
  driver: VmDriver;
  /** A spec for this driver whose guest prints `BLIXARD-READY name=<name>` on its console when up. */
  spec(name: string): VmSpec;
  /** A spec for this driver that names a host file (kernel, runner, …) missing on this node. */
  missingFileSpec(name: string): VmSpec;
  /** A new driver instance over the same state and processes: the agent after a restart. */
  restart(): VmDriver;
  /** Kills the VM's process behind the driver's back, as SIGKILL does. */
  kill(name: string, pid: number): Promise<void>;
  /** What `remove` with `quarantine` moved aside on this node. */
  quarantined(): Promise<{ vm: string; reason: string }[]>;
  stopOptions: StopOptions;
  /** Real time a boot may take here (TCG on a loaded machine is slow). */
  bootTimeoutMs: number;
  /** Kills whatever a failed case left running (by pid, checked) and removes what the harness made. */
  cleanup(): Promise<void>;
}

export interface DriverContext {
  readonly harness: DriverHarness;
  readonly driver: VmDriver;
}

export function useDriverHarness(factory: () => Promise<DriverHarness>): DriverContext {
  let harness: DriverHarness | undefined;
  beforeEach(async () => {
    harness = await factory();
  });
  afterEach(async () => {
    await harness?.cleanup();
    harness = undefined;
  });
  const current = () => {
    if (harness === undefined) throw new Error("the driver harness is only available inside a test");
    return harness;
  };
  return {
    get harness() {
      return current();
    },
    get driver() {
      return current().driver;
    },
  };
}

export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: "BlixardError", code });
}

/**
 * A call that must fail with `code` by rejecting its promise: a synchronous throw would escape a
 * caller's `.catch()` (the agent chains them), so it fails the contract too.
 */
export async function expectRejection(call: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (err) {
    throw new Error(`threw synchronously instead of rejecting: ${(err as Error).message}`);
  }
  await expectCode(promise, code);
}

export const readyLine = (name: string) => new RegExp(`BLIXARD-READY name=${name}\\b`);

/** Follows the console from `offset` until `pattern` appears, failing after `timeoutMs` of real time. */
export async function waitForConsole(
  driver: VmDriver,
  name: string,
  offset: number,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let text = "";
  try {
    for await (const chunk of driver.followLogs(name, offset, controller.signal)) {
      text += chunk;
      if (pattern.test(text)) return text;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  throw new Error(
    `console of ${name} never matched ${pattern} in ${timeoutMs} ms; it showed:\n${text.slice(-2_000)}`,
  );
}

/** Inspects until the VM is no longer running (a killed process takes a moment to be reaped). */
export async function waitUntilDown(driver: VmDriver, name: string, timeoutMs: number): Promise<VmRuntime> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runtime = await driver.inspect(name);
    if (runtime.state !== "running" || Date.now() > deadline) return runtime;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Prepares and starts a VM, then waits until its guest is up; returns the started process. */
export async function bootReady(h: DriverHarness, driver: VmDriver, name: string) {
  const spec = h.spec(name);
  await driver.prepare(name, spec);
  const offset = await driver.logSize(name);
  const started = await driver.start(name, spec);
  await waitForConsole(driver, name, offset, readyLine(name), h.bootTimeoutMs);
  return started;
}

/** Reads a whole log stream, checking each chunk's size. */
export async function readStream(
  driver: VmDriver,
  name: string,
  tail: number | undefined,
  chunkBytes: number,
): Promise<{ text: string; offset: number; largestChunk: number }> {
  const stream = driver.streamLogs(name, tail, chunkBytes);
  let text = "";
  let largestChunk = 0;
  for await (const chunk of stream.chunks) {
    text += chunk;
    largestChunk = Math.max(largestChunk, Buffer.byteLength(chunk));
  }
  return { text, offset: stream.offset(), largestChunk };
}
