/**
 * `blixard cluster token create|list|revoke`: join tokens (`K10<ca-sha256>::join:<id>.<secret>`),
 * separate from user credentials. A token is one-time unless --reusable, and expires after --ttl.
 */
import type { Command } from "commander";
import { clusterClient, type GlobalOptions } from "./client.js";
import { outputFormat, printData, renderTable } from "./output.js";
import { parseTtl } from "./ttl.js";

export interface JoinTokenFlags {
  ttl?: string;
  reusable?: boolean;
  description?: string;
}

/** Prints a new join token; `blixard token create --join` comes here too. */
export async function createJoinToken(options: GlobalOptions, flags: JoinTokenFlags): Promise<void> {
  const ttl = flags.ttl ?? "1h";
  const res = await clusterClient(options).createJoinToken({
    ttlSeconds: ttl === "0" ? 0 : parseTtl(ttl),
    reusable: flags.reusable ?? false,
    description: flags.description ?? "",
  });
  process.stdout.write(`${res.token}\n`);
}

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
    .action((flags: JoinTokenFlags) => createJoinToken(globals(), flags));

  token
    .command("list")
    .description("list the join tokens that can still be used (their secrets are not stored)")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const { tokens } = await clusterClient(globals()).listJoinTokens({});
      const rows = tokens.map((t) => ({
        id: t.id,
        reusable: t.reusable,
        expiresAt: t.expiresAt || null,
        createdAt: t.createdAt,
        description: t.description,
      }));
      await printData(format, rows, () =>
        renderTable(
          ["ID", "USES", "EXPIRES", "CREATED", "DESCRIPTION"],
          rows.map((r) => [
            r.id,
            r.reusable ? "many" : "once",
            r.expiresAt ?? "never",
            r.createdAt,
            r.description,
          ]),
        ),
      );
    });

  token
    .command("revoke <id>")
    .description("revoke a join token: no node can join with it any more")
    .action(async (id: string) => {
      await clusterClient(globals()).revokeJoinToken({ id });
      process.stdout.write(`join token ${id} revoked\n`);
    });
}
