/**
 * Runs the Ceph tools for the RBD backend: an argv array (rbd-argv.ts), a timeout so that an
 * unreachable cluster fails the call instead of hanging it, and failures turned into BlixardErrors
 * that keep the tool's own message and its exit status (the tools exit with the errno: 2 = no such
 * image, 17 = exists), which callers use to make create, snapshot and remove idempotent.
 */
import { execFile } from "node:child_process";
import { BlixardError } from "../../core/errors.js";

export const ENOENT = 2;
export const EEXIST = 17;

export class CephToolError extends BlixardError {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    options: { cause?: unknown; timedOut?: boolean },
  ) {
    super(options.timedOut ? "UNAVAILABLE" : "DRIVER_FAILED", message, { cause: options.cause });
  }
}

export interface CephTools {
  rbd: string;
  rados: string;
  ceph: string;
  qemuImg: string;
}

export const DEFAULT_CEPH_TOOLS: CephTools = {
  rbd: "rbd",
  rados: "rados",
  ceph: "ceph",
  qemuImg: "qemu-img",
};

/** Runs `binary argv…` and returns its stdout; rejects with a CephToolError naming `what` was done. */
export function runCephTool(
  binary: string,
  argv: readonly string[],
  timeoutMs: number,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...argv],
      {
        timeout: timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 16 * 1024 * 1024,
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", LANG: "C" },
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const timedOut = (err as { killed?: boolean }).killed === true;
        const code = typeof err.code === "number" ? err.code : undefined;
        const detail = lastLines(stderr) || err.message;
        const message = timedOut
          ? `${what} (${binary}) did not answer within ${timeoutMs} ms: check that Ceph is reachable with the node's --ceph-conf, --ceph-user and --ceph-keyring`
          : `${what} (${binary}) failed: ${detail}`;
        reject(new CephToolError(message, code, { cause: err, timedOut }));
      },
    );
  });
}

/** The tool's last error lines, without librados's progress chatter. */
function lastLines(stderr: string): string {
  return stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.includes("% complete"))
    .slice(-2)
    .join("; ");
}

export function exitedWith(err: unknown, code: number): boolean {
  return err instanceof CephToolError && err.exitCode === code;
}
