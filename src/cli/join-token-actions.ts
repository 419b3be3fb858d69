/** What `blixard cluster token create|list|revoke` do, through the ClusterService. */
import { clusterClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
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

export async function listJoinTokens(options: GlobalOptions, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const { tokens } = await clusterClient(options).listJoinTokens({});
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
}

export async function revokeJoinToken(options: GlobalOptions, id: string): Promise<void> {
  await clusterClient(options).revokeJoinToken({ id });
  process.stdout.write(`join token ${id} revoked\n`);
}
