/**
 * Join tokens in the store: only a SHA-256 of each secret is kept, under the token's id, so tokens
 * can be listed and revoked without anyone (a store reader included) recovering a usable token.
 * A one-time token is spent by the join that presents it: a transaction conditioned on the record's
 * revision deletes it, so two joins racing with the same token cannot both get in.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { BlixardError } from "../core/errors.js";
import { formatJoinToken } from "../core/join-token.js";
import { keys, nameFromKey } from "../core/keys.js";
import type { Clock } from "../ports/clock.js";
import type { Random } from "../ports/random.js";
import type { Store } from "../ports/store.js";

const recordSchema = z.object({
  id: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  description: z.string(),
  reusable: z.boolean(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});

export type JoinTokenRecord = z.infer<typeof recordSchema>;

export interface CreatedJoinToken {
  token: string;
  record: JoinTokenRecord;
}

export interface JoinTokenOptions {
  ttlSeconds?: number;
  reusable?: boolean;
  description?: string;
  /** A fixed id (the bootstrap token of --cluster-init); random otherwise. */
  id?: string;
}

const ID_RE = /^[0-9a-z]{6,32}$/;

export class JoinTokens {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    /** The cluster CA's fingerprint, which every token carries. */
    private readonly caFingerprint: () => string,
  ) {}

  async create(options: JoinTokenOptions = {}): Promise<CreatedJoinToken> {
    const id = options.id ?? this.random.hex(4);
    const secret = this.random.hex(24);
    const now = this.clock.now();
    const record: JoinTokenRecord = {
      id,
      sha256: sha256(secret),
      description: options.description ?? "",
      reusable: options.reusable ?? false,
      createdAt: new Date(now).toISOString(),
      expiresAt: options.ttlSeconds ? new Date(now + options.ttlSeconds * 1000).toISOString() : null,
    };
    const result = await this.store.txn({
      compare: [{ key: keys.joinToken(id), target: "createRevision", op: "=", value: 0 }],
      success: [{ type: "put", key: keys.joinToken(id), value: JSON.stringify(record) }],
      confirmQuorum: true,
    });
    if (!result.succeeded) {
      throw new BlixardError("ALREADY_EXISTS", `a join token with id ${id} exists; revoke it first`);
    }
    return { token: formatJoinToken({ caFingerprint: this.caFingerprint(), id, secret }), record };
  }

  async list(): Promise<JoinTokenRecord[]> {
    const { kvs } = await this.store.range(keys.joinTokensPrefix);
    const now = this.clock.now();
    return kvs
      .map((kv) => parse(kv.value, nameFromKey(keys.joinTokensPrefix, kv.key)))
      .filter((r) => !expired(r, now));
  }

  async revoke(id: string): Promise<void> {
    if (!ID_RE.test(id)) throw new BlixardError("INVALID_ARGUMENT", `id: "${id}" is not a join token id`);
    const existing = await this.store.get(keys.joinToken(id));
    if (!existing) {
      throw new BlixardError("NOT_FOUND", `no join token ${id}; \`blixard cluster token list\` shows them`);
    }
    await this.store.delete(keys.joinToken(id));
  }

  /**
   * Checks `<id>.<secret>` and spends a one-time token. False for an unknown, wrong, expired or already
   * spent token: the caller answers all of them the same way, so a guesser learns nothing. `undo`
   * gives a spent token back when the join then fails for another reason (the cluster was busy).
   */
  async redeem(presented: string): Promise<false | { undo(): Promise<void> }> {
    const dot = presented.indexOf(".");
    const id = presented.slice(0, dot);
    const secret = presented.slice(dot + 1);
    if (dot < 0 || !ID_RE.test(id) || secret === "") return false;
    const kv = await this.store.get(keys.joinToken(id));
    if (!kv) return false;
    const record = parse(kv.value, id);
    const given = Buffer.from(sha256(secret), "hex");
    const stored = Buffer.from(record.sha256, "hex");
    if (given.length !== stored.length || !timingSafeEqual(given, stored)) return false;
    if (expired(record, this.clock.now())) return false;
    if (record.reusable) return { undo: async () => {} };
    const spent = await this.store.txn({
      compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
      success: [{ type: "delete", key: kv.key }],
      confirmQuorum: true,
    });
    if (!spent.succeeded) return false;
    return {
      undo: async () => {
        await this.store.txn({
          compare: [{ key: kv.key, target: "createRevision", op: "=", value: 0 }],
          success: [{ type: "put", key: kv.key, value: kv.value }],
        });
      },
    };
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function expired(record: JoinTokenRecord, now: number): boolean {
  return record.expiresAt !== null && Date.parse(record.expiresAt) <= now;
}

function parse(value: string, id: string): JoinTokenRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    raw = undefined;
  }
  const result = recordSchema.safeParse(raw);
  if (!result.success) {
    throw new BlixardError(
      "INTERNAL",
      `the join token record ${id} in the store is damaged; revoke it with \`blixard cluster token revoke ${id}\``,
    );
  }
  return result.data;
}
