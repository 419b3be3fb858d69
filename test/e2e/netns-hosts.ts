/**
 * Test hosts as network namespaces: K namespaces, each joined by a veth pair to one underlay bridge
 * in a namespace of its own, so that each host has an underlay address (10.251.<net>.<i>/24) and
 * nothing else; a node process runs in one with `ip netns exec`. Cutting a host takes its link down
 * (a lost host). Every name is generated per instance and everything is removed by that name or by
 * pid, never by a pattern, so parallel runs and other helpers' devices are never touched.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** Runs `argv` and fails with its stderr unless it exits 0 (argv only, never a shell string). */
export function run(argv: string[], input?: string): string {
  const [cmd, ...args] = argv;
  const res: SpawnSyncReturns<string> = spawnSync(cmd!, args, {
    encoding: "utf8",
    timeout: 60_000,
    ...(input !== undefined ? { input } : {}),
  });
  if (res.status !== 0) {
    throw new Error(
      `${argv.join(" ")} failed (${res.status ?? res.signal}): ${res.stderr}${res.error ?? ""}`,
    );
  }
  return res.stdout;
}

/** `ip netns exec NS argv...` as an argv (the command execs in place: the pid is the command's). */
export function inNetns(ns: string, argv: string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

/** A name no other run uses: prefix + 8 hex digits (short enough for a 15-character device name). */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

/** The namespaces that exist now (`ip netns list` prints "NAME" or "NAME (id: N)"). */
export function netnsList(): string[] {
  return run(["ip", "netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name !== "");
}

/** Host-side (root namespace) link names now. */
export function hostLinks(): string[] {
  return (JSON.parse(run(["ip", "-j", "link", "show"])) as { ifname: string }[]).map((l) => l.ifname);
}

/** Deletes a namespace this run made (by its generated name); the devices in it go with it. */
export function deleteNetns(ns: string): void {
  if (netnsList().includes(ns)) run(["ip", "netns", "delete", ns]);
}
