/**
 * `blixard cluster token create|list|revoke`: join tokens (`K10<ca-sha256>::join:<id>.<secret>`),
 * separate from user credentials. A token is one-time unless --reusable, and expires after --ttl.
 */
import type { Command } from "commander";
import { UsageError } from "./cli-error.js";
import { clusterClient, type GlobalOptions } from "./client.js";
import { outputFormat, printData, renderTable } from "./output.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "1h", "7d" as seconds. */
export function parseTtl(value: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * (UNITS[match[2]!] ?? 0) : 0;
  if (seconds <= 0 || seconds > 366 * 86400) {
    throw new UsageError(`--ttl: "${value}" is not a duration like 30m, 1h or 7d (at most 366d)`);
  }
  return seconds;
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
    .action(async (flags: { ttl: string; reusable?: boolean; description?: string }) => {
      const ttlSeconds = flags.ttl === "0" ? 0 : parseTtl(flags.ttl);
      const res = await clusterClient(globals()).createJoinToken({
        ttlSeconds,
        reusable: flags.reusable ?? false,
        description: flags.description ?? "",
      });
      process.stdout.write(`${res.token}\n`);
    });

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
