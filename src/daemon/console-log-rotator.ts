/**
 * Keeps every VM's console log on this node bounded: at start and then every second, each
 * `<vmsDir>/<name>/console.log` that has reached the node's `--console-log-max-bytes` is rotated
 * (drivers/qemu/console-log.ts: copytruncate, one old copy kept). Both drivers' logs live there, and
 * both writers (qemu's chardev with append=on, the microvm.nix runner's stdout) hold them with
 * O_APPEND, which copytruncate needs.
 *
 * While the node is down nobody rotates: a single node's VMs keep running and their logs grow until
 * the node starts again, and rotates them at once (keeping the newest max bytes). A cluster node's
 * watchdog kills its VMs a lease TTL after the node stops renewing, which bounds that growth; the
 * watchdog does not rotate, so two processes never copytruncate one file at once.
 */
import { join } from "node:path";
import { errorMessage } from "../core/errors.js";
import { rotateConsoleLog } from "../drivers/shared/console-rotation.js";
import { listVmNames } from "../drivers/shared/vm-paths.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";

export const ROTATE_INTERVAL_MS = 1000;

export interface ConsoleLogRotator {
  /** One pass over every VM's log; resolves with the VMs whose log was rotated. */
  rotateNow(): Promise<string[]>;
  stop(): void;
}

export function startConsoleLogRotator(opts: {
  vmsDir: string;
  maxBytes: number;
  clock: Clock;
  logger: Logger;
  intervalMs?: number;
}): ConsoleLogRotator {
  const log = opts.logger.child({ component: "console-log" });
  let timer: TimerHandle | undefined;
  let stopped = false;
  const rotateNow = async (): Promise<string[]> => {
    const rotated: string[] = [];
    for (const name of await listVmNames(opts.vmsDir).catch(() => [] as string[])) {
      try {
        if (await rotateConsoleLog(join(opts.vmsDir, name, "console.log"), opts.maxBytes)) rotated.push(name);
      } catch (err) {
        log.warn({ vm: name, err: errorMessage(err) }, "could not rotate the console log");
      }
    }
    if (rotated.length > 0) log.debug({ vms: rotated, maxBytes: opts.maxBytes }, "rotated console logs");
    return rotated;
  };
  const loop = () => {
    if (stopped) return;
    timer = opts.clock.setTimeout(async () => {
      await rotateNow();
      loop();
    }, opts.intervalMs ?? ROTATE_INTERVAL_MS);
  };
  void rotateNow().then(loop);
  return {
    rotateNow,
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
