/**
 * API tokens: the secret's format and the stored record. A token reads `blx_<name>_<secret>`, with a
 * DNS-label name and 64 hex digits of secret, so the node finds its record by name in one read and
 * compares only the SHA-256 of the secret (the store never holds a secret). A bare secret in another
 * format is the bootstrap admin token of a data dir written before named tokens (or given with
 * --token); it is checked against the record named `admin`.
 */
import { z } from "zod";
import { nameProblem } from "./names.js";
import { ROLES } from "./roles.js";

export const TOKEN_PREFIX = "blx_";
/** The token written to `<data-dir>/token` at first start. */
export const ADMIN_TOKEN_NAME = "admin";
const SECRET = /^[0-9a-f]{64}$/;

export function formatToken(name: string, secretHex: string): string {
  return `${TOKEN_PREFIX}${name}_${secretHex}`;
}

/** The name a presented token claims: its own for `blx_` tokens, `admin` for a legacy bare secret. */
export function tokenName(presented: string): string | undefined {
  if (!presented.startsWith(TOKEN_PREFIX)) return ADMIN_TOKEN_NAME;
  const rest = presented.slice(TOKEN_PREFIX.length);
  const cut = rest.lastIndexOf("_");
  if (cut < 0) return undefined;
  const name = rest.slice(0, cut);
  return nameProblem(name) === undefined && SECRET.test(rest.slice(cut + 1)) ? name : undefined;
}

export const tokenRecordSchema = z.strictObject({
  name: z.string().refine((n) => nameProblem(n) === undefined, "must be a DNS label"),
  role: z.enum(ROLES),
  /** SHA-256 of the whole presented token, hex. */
  hash: z.string().regex(SECRET),
  createdAt: z.string(),
  /** RFC 3339; absent when the token does not expire. */
  expiresAt: z.string().optional(),
  /** The token that created or last rotated this one; "" for the bootstrap admin token. */
  createdBy: z.string(),
});
export type TokenRecord = z.infer<typeof tokenRecordSchema>;

export function parseTokenRecord(value: string): TokenRecord {
  return tokenRecordSchema.parse(JSON.parse(value));
}

/** Why a record does not authenticate at `nowMs`, or undefined when it does. */
export function expiryProblem(record: TokenRecord, nowMs: number): string | undefined {
  if (record.expiresAt === undefined) return undefined;
  return Date.parse(record.expiresAt) <= nowMs
    ? `token "${record.name}" expired at ${record.expiresAt}; ask an admin for a new one (blixard token create)`
    : undefined;
}
