/**
 * Applies an nftables script: `nft -f -` with the script on stdin, so nft applies it as one
 * transaction (all of it or nothing) and no rule text ever passes through a shell or an argv. The
 * command is an argv prefix, so a test can run it inside a network namespace
 * (`ip netns exec NS nft`). The netdev helper's runner for src/net/ may replace this one at merge.
 */
import { spawn } from "node:child_process";
import { BlixardError } from "../../core/errors.js";
import type { ApplyNft } from "../../ports/apply-nft.js";

export type { ApplyNft };

/** The most of nft's error output kept in an error message. */
const MAX_STDERR = 4000;

export function nftRunner(command: readonly string[] = ["nft"]): ApplyNft {
  const [program, ...prefix] = command;
  if (!program) throw new Error("nftRunner needs a command");
  return (script) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(program, [...prefix, "-f", "-"], { stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        if (stderr.length < MAX_STDERR) stderr += chunk;
      });
      child.on("error", (err) =>
        reject(
          new BlixardError("UNAVAILABLE", `cannot run ${program}: install nftables (Debian: nftables)`, {
            cause: err,
          }),
        ),
      );
      child.on("close", (code) => {
        if (code === 0) resolve();
        else {
          reject(
            new BlixardError(
              "INTERNAL",
              `nft refused the service rules (exit ${code}): ${stderr.slice(0, MAX_STDERR).trim()}`,
            ),
          );
        }
      });
      child.stdin.on("error", () => undefined);
      child.stdin.end(script);
    });
}
