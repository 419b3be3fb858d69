/**
 * `blixard cluster token create|list|revoke`: join tokens (`K10<ca-sha256>::join:<id>.<secret>`),
 * separate from user credentials. A token is one-time unless --reusable, and expires after --ttl.
 * Definitions only: join-token-actions.ts does the work when one runs.
 */
import type { Command } from "commander";
import type { GlobalOptions } from "./globals.js";
import type { JoinTokenFlags } from "./join-token-actions.js";

const actions = () => import("./join-token-actions.js");

export function registerJoinTokenCommands(cluster: Command, globals: () => GlobalOptions): void {
  const token = cluster.command("token").description("create, list or revoke join tokens");

  token
    .command("create")
    .description(
      "print a join token for `blixard node --join ADDR --token TOKEN` (one-time unless --reusable)",
    )
    .option("--ttl <duration>", "expire after this long, e.g. 30m, 1h, 7d (default 1h; 0 for never)", "1h")
    .option("--reusable", "allow any number of joins until it expires or is revoked")
    .option("--description <text>", "shown by `cluster token list`")
    .action(async (flags: JoinTokenFlags) => (await actions()).createJoinToken(globals(), flags));

  token
    .command("list")
    .description("list the join tokens that can still be used (their secrets are not stored)")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listJoinTokens(globals(), flags));

  token
    .command("revoke <id>")
    .description("revoke a join token: no node can join with it any more")
    .action(async (id: string) => (await actions()).revokeJoinToken(globals(), id));
}
