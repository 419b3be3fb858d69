/**
 * What `blixard token create|list|revoke|rotate` do, through the TokenService. A secret is printed
 * once, when it is made; rotating the admin token from the node itself rewrites the node's token file.
 */
import { ROLES } from "../core/roles.js";
import { tokenName } from "../core/tokens.js";
import { writeSecretFile } from "../daemon/data-dir.js";
import type { TokenInfo } from "../gen/blixard/v1/token_pb.js";
import { tokenClient } from "./client.js";
import { findToken } from "./credentials.js";
import type { GlobalOptions } from "./globals.js";
import { createJoinToken } from "./join-token-actions.js";
import { outputFormat, printData, renderTable } from "./output.js";
import { parseTtl } from "./ttl.js";
import { UsageError } from "./usage-error.js";

export interface CreateTokenFlags {
  role?: string;
  ttl?: string;
  join?: boolean;
  reusable?: boolean;
}

export async function createToken(
  options: GlobalOptions,
  name: string | undefined,
  flags: CreateTokenFlags,
): Promise<void> {
  if (flags.join) {
    if (name !== undefined || flags.role !== undefined) {
      throw new UsageError(
        "a join token has no name or role: blixard token create --join [--ttl 1h] [--reusable]",
      );
    }
    return createJoinToken(options, flags);
  }
  if (name === undefined || flags.role === undefined) {
    throw new UsageError(`token create needs a NAME and --role (${ROLES.join(", ")}), or --join`);
  }
  const ttlSeconds = flags.ttl === undefined ? 0 : parseTtl(flags.ttl);
  const res = await tokenClient(options).createToken({ name, role: flags.role, ttlSeconds });
  const expiry = res.token?.expiresAt ? `, expires ${res.token.expiresAt}` : "";
  process.stderr.write(
    `created token "${name}" (role ${flags.role}${expiry}); its secret, shown only now:\n`,
  );
  process.stdout.write(`${res.secret}\n`);
}

export async function listTokens(options: GlobalOptions, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const { tokens } = await tokenClient(options).listTokens({});
  await printData(format, tokens.map(tokenJson), () => tokenTable(tokens));
}

export async function revokeToken(options: GlobalOptions, name: string): Promise<void> {
  await tokenClient(options).revokeToken({ name });
  process.stdout.write(`revoked token "${name}"\n`);
}

export async function rotateToken(options: GlobalOptions, name: string): Promise<void> {
  const found = findToken(options.dataDir, process.env, options.tokenFile);
  const res = await tokenClient(options).rotateToken({ name });
  // On the node, its own admin token lives in <data-dir>/token: rewrite it rather than print it.
  if (found?.source === "data-dir" && found.path !== undefined && tokenName(found.token) === name) {
    writeSecretFile(found.path, res.secret);
    process.stdout.write(`rotated token "${name}"; wrote the new secret to ${found.path}\n`);
    return;
  }
  process.stderr.write(`rotated token "${name}"; its new secret, shown only now:\n`);
  process.stdout.write(`${res.secret}\n`);
}

function tokenJson(t: TokenInfo): Record<string, unknown> {
  return {
    name: t.name,
    role: t.role,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt || null,
    createdBy: t.createdBy,
  };
}

function tokenTable(tokens: TokenInfo[]): string {
  return renderTable(
    ["NAME", "ROLE", "CREATED", "EXPIRES", "CREATED BY"],
    tokens.map((t) => [t.name, t.role, t.createdAt, t.expiresAt || "never", t.createdBy || "-"]),
  );
}
