/**
 * Runs the host's network tools (`ip`, `bridge`, `nft`) as argv arrays, never through a shell, with a
 * timeout, and reports a failure with the tool's own stderr. A `HostTools` may be bound to a network
 * namespace (`ip netns exec NS ...`): the node runs in its own namespace on a multi-host test bed, and
 * the integration tests build hosts out of namespaces.
 */
import { execFile } from "node:child_process";
import { BlixardError, errorMessage } from "../core/errors.js";
import { checkNamespaceName } from "./net-names.js";

export interface RunOptions {
  /** Written to the tool's stdin (nft -f -). */
  input?: string;
  /** Exit codes other than 0 that mean "nothing to do" (deleting what is already gone). */
  okStderr?: RegExp;
}

export class HostTools {
  /** @param namespace the network namespace to run in; the node's own when unset. */
  constructor(readonly namespace?: string) {
    if (namespace !== undefined) checkNamespaceName(namespace);
  }

  /** The argv that runs `program args` in this namespace (also used to spawn dnsmasq). */
  command(program: string, args: string[]): string[] {
    return this.namespace === undefined
      ? [program, ...args]
      : ["ip", "netns", "exec", this.namespace, program, ...args];
  }

  /** Runs the tool; resolves with its stdout, or with "" when it failed with an `okStderr` message. */
  run(program: string, args: string[], options: RunOptions = {}): Promise<string> {
    const [binary, ...argv] = this.command(program, args) as [string, ...string[]];
    return new Promise((resolve, reject) => {
      const child = execFile(
        binary,
        argv,
        { timeout: 20_000, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const said = stderr.trim();
          if (options.okStderr?.test(said)) return resolve("");
          reject(
            new BlixardError(
              "DRIVER_FAILED",
              `${program} ${args.join(" ")} failed: ${said || errorMessage(err)}; ` +
                `check that ${program} is installed (scripts/install-system-deps.sh) and the node runs as root`,
              { cause: err },
            ),
          );
        },
      );
      // A tool that exits before reading its stdin reports itself through the callback above.
      child.stdin?.on("error", () => {});
      child.stdin?.end(options.input ?? "");
    });
  }

  /** `ip -j ARGS`, its JSON array parsed; an empty answer is an empty list. */
  async ipJson(args: string[]): Promise<unknown[]> {
    return parseJsonList("ip", args, await this.run("ip", ["-j", ...args]));
  }

  /** `bridge -j ARGS`, its JSON array parsed. */
  async bridgeJson(args: string[]): Promise<unknown[]> {
    return parseJsonList("bridge", args, await this.run("bridge", ["-j", ...args]));
  }
}

function parseJsonList(program: string, args: string[], stdout: string): unknown[] {
  if (stdout.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (err) {
    throw new BlixardError(
      "DRIVER_FAILED",
      `${program} -j ${args.join(" ")} printed no JSON; is iproute2 recent enough (5.x or later)?`,
      { cause: err },
    );
  }
  if (!Array.isArray(parsed)) {
    throw new BlixardError(
      "DRIVER_FAILED",
      `${program} -j ${args.join(" ")} printed ${typeof parsed}, not a list`,
    );
  }
  return parsed;
}

/** "Cannot find device" and friends: the device is already gone. */
export const NO_SUCH_DEVICE = /Cannot find device|does not exist|No such device/;
