/**
 * `blixard token create|list|revoke|rotate`: named API tokens with a role (admin, operator, viewer).
 * A secret is printed once, when it is made; `token list` never shows one. Rotating the admin token
 * from the node itself rewrites the node's token file, so the local CLI keeps working. Definitions
 * only: token-actions.ts does the work when one runs.
 */
import type { Command } from "commander";
import { ROLES } from "../core/roles.js";
import type { GlobalOptions } from "./globals.js";
import type { CreateTokenFlags } from "./token-actions.js";

const actions = () => import("./token-actions.js");

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
    .action(async (name: string | undefined, flags: CreateTokenFlags) =>
      (await actions()).createToken(globals(), name, flags),
    );

  token
    .command("list")
    .description("list tokens: name, role, creation and expiry (never the secrets)")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listTokens(globals(), flags));

  token
    .command("revoke <name>")
    .description("delete a token; requests that present it are refused from now on")
    .action(async (name: string) => (await actions()).revokeToken(globals(), name));

  token
    .command("rotate <name>")
    .description("give a token a new secret; the old one stops working at once")
    .action(async (name: string) => (await actions()).rotateToken(globals(), name));
}
