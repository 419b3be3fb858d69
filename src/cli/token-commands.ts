/**
 * `blixard token create|list|revoke|rotate`: named API tokens with a role (admin, operator, viewer).
 * A secret is printed once, when it is made; `token list` never shows one. Rotating the admin token
 * from the node itself rewrites the node's token file, so the local CLI keeps working.
 */
import type { Command } from "commander";
import { ROLES } from "../core/roles.js";
import { tokenName } from "../core/tokens.js";
import { writeSecretFile } from "../daemon/data-dir.js";
import type { TokenInfo } from "../gen/blixard/v1/token_pb.js";
import { UsageError } from "./cli-error.js";
import { findToken, type GlobalOptions, tokenClient } from "./client.js";
import { createJoinToken } from "./join-token-commands.js";
import { outputFormat, printData, renderTable } from "./output.js";
import { parseTtl } from "./ttl.js";

export function registerTokenCommands(program: Command, globals: () => GlobalOptions): void {
  const token = program
    .command("token")
    .description("create, list, revoke or rotate API tokens (admin only)");

  token
    .command("create [name]")
    .description(
      "create a token with a role and print its secret (shown only this once); with --join, a join token for new nodes",
    )
    .option("--role <role>", `one of ${ROLES.join(", ")}`)
    .option("--ttl <duration>", "expire after this long, e.g. 30m, 12h, 7d (default: never; 1h with --join)")
    .option("--join", "a join token (`blixard node --join ADDR --token T`), as `cluster token create`")
    .option("--reusable", "with --join: allow any number of joins until it expires or is revoked")
    .action(
      async (
        name: string | undefined,
        flags: { role?: string; ttl?: string; join?: boolean; reusable?: boolean },
      ) => {
        if (flags.join) {
          if (name !== undefined || flags.role !== undefined) {
            throw new UsageError(
              "a join token has no name or role: blixard token create --join [--ttl 1h] [--reusable]",
            );
          }
          return createJoinToken(globals(), flags);
        }
        if (name === undefined || flags.role === undefined) {
          throw new UsageError(`token create needs a NAME and --role (${ROLES.join(", ")}), or --join`);
        }
        const ttlSeconds = flags.ttl === undefined ? 0 : parseTtl(flags.ttl);
        const res = await tokenClient(globals()).createToken({ name, role: flags.role, ttlSeconds });
        const expiry = res.token?.expiresAt ? `, expires ${res.token.expiresAt}` : "";
        process.stderr.write(
          `created token "${name}" (role ${flags.role}${expiry}); its secret, shown only now:\n`,
        );
        process.stdout.write(`${res.secret}\n`);
      },
    );

  token
    .command("list")
    .description("list tokens: name, role, creation and expiry (never the secrets)")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const { tokens } = await tokenClient(globals()).listTokens({});
      await printData(format, tokens.map(tokenJson), () => tokenTable(tokens));
    });

  token
    .command("revoke <name>")
    .description("delete a token; requests that present it are refused from now on")
    .action(async (name: string) => {
      await tokenClient(globals()).revokeToken({ name });
      process.stdout.write(`revoked token "${name}"\n`);
    });

  token
    .command("rotate <name>")
    .description("give a token a new secret; the old one stops working at once")
    .action(async (name: string) => {
      const options = globals();
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
    });
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
