/**
 * API tokens in the store: create, list, revoke, rotate and verify. Only the SHA-256 of a token is
 * stored, under /tokens/<name>; verification reads one key and compares digests in constant time.
 * Creating and rotating are transactions on the key's revision, so two admins never both win.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import { nameProblem } from "../core/names.js";
import type { Principal, Role } from "../core/roles.js";
import {
  ADMIN_TOKEN_NAME,
  expiryProblem,
  formatToken,
  parseTokenRecord,
  type TokenRecord,
  tokenName,
} from "../core/tokens.js";
import type { Clock } from "../ports/clock.js";
import type { Random } from "../ports/random.js";
import type { Store } from "../ports/store.js";

export function tokenHash(presented: string): string {
  return createHash("sha256").update(presented).digest("hex");
}

/** Why a presented token was refused, for the 401 message; never echoes the token. */
export type Verification = { principal: Principal } | { problem: string };

/**
 * How long a verified token is trusted without reading its record again. Every API request is
 * authenticated, so this saves a store read (an etcd round trip in a cluster) per request; a token
 * revoked or rotated through another node is refused there within this time (at once on this node).
 * While the store cannot be read, the last verification of a token stands (see verify).
 */
const CACHE_MS = 1000;
const CACHE_MAX = 1024;

interface Cached {
  principal: Principal;
  record: TokenRecord;
  until: number;
}

export class TokenRepository {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  async verify(presented: string): Promise<Verification> {
    const digest = tokenHash(presented);
    const now = this.clock.now();
    const cached = this.cache.get(digest);
    if (cached && cached.until > now) {
      const expired = expiryProblem(cached.record, now);
      return expired ? { problem: expired } : { principal: cached.principal };
    }
    let verdict: Awaited<ReturnType<TokenRepository["verifyInStore"]>>;
    try {
      verdict = await this.verifyInStore(presented, digest);
    } catch (err) {
      // The store cannot be read (a cluster without quorum): a token this node verified before keeps
      // working, expiry still checked, so that requests reach the API and fail there with the real
      // reason. A node cut off from quorum can serve no write anyway.
      if (!cached) throw err;
      const expired = expiryProblem(cached.record, now);
      return expired ? { problem: expired } : { principal: cached.principal };
    }
    if ("principal" in verdict && "record" in verdict) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(digest, { principal: verdict.principal, record: verdict.record, until: now + CACHE_MS });
      return { principal: verdict.principal };
    }
    return verdict;
  }

  private async verifyInStore(
    presented: string,
    digest: string,
  ): Promise<Verification | { principal: Principal; record: TokenRecord }> {
    const name = tokenName(presented);
    if (name === undefined)
      return { problem: "the bearer token is not a Blixard token (blx_<name>_<secret>)" };
    const kv = await this.store.get(keys.token(name));
    if (!kv) return { problem: `token "${name}" does not exist or was revoked` };
    const record = parseTokenRecord(kv.value);
    const given = Buffer.from(digest, "hex");
    const stored = Buffer.from(record.hash, "hex");
    if (given.length !== stored.length || !timingSafeEqual(given, stored)) {
      return { problem: `token "${name}" was rotated or revoked; use its current secret` };
    }
    const expired = expiryProblem(record, this.clock.now());
    if (expired) return { problem: expired };
    return { principal: { name: record.name, role: record.role }, record };
  }

  async list(): Promise<TokenRecord[]> {
    const { kvs } = await this.store.range(keys.tokensPrefix);
    return kvs.map((kv) => parseTokenRecord(kv.value)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A new token; the secret is returned here and never again. */
  async create(
    name: string,
    role: Role,
    ttlSeconds: number,
    createdBy: string,
  ): Promise<{ record: TokenRecord; secret: string }> {
    validTokenName(name);
    const secret = formatToken(name, this.random.hex(32));
    const record = this.record(name, role, secret, ttlSeconds, createdBy);
    const result = await this.store.txn({
      confirmQuorum: true,
      compare: [{ key: keys.token(name), target: "createRevision", op: "=", value: 0 }],
      success: [{ type: "put", key: keys.token(name), value: JSON.stringify(record) }],
    });
    if (!result.succeeded) {
      throw new BlixardError(
        "ALREADY_EXISTS",
        `token "${name}" already exists; choose another name, or rotate it with: blixard token rotate ${name}`,
      );
    }
    return { record, secret };
  }

  /**
   * Stores `secret` (the node's token file) as the admin token unless an admin token exists: a node
   * that joins or restarts must not undo a rotation. `replace` stores it whatever is there: a node that
   * restores a backup takes the restored cluster over with its own admin token (the backup's other
   * tokens stay valid). Returns whether the stored admin token is `secret`.
   */
  async bootstrapAdmin(secret: string, options: { replace?: boolean } = {}): Promise<boolean> {
    const record = this.record(ADMIN_TOKEN_NAME, "admin", secret, 0, "");
    await this.store.txn({
      confirmQuorum: true,
      compare: options.replace
        ? []
        : [{ key: keys.token(ADMIN_TOKEN_NAME), target: "createRevision", op: "=", value: 0 }],
      success: [{ type: "put", key: keys.token(ADMIN_TOKEN_NAME), value: JSON.stringify(record) }],
    });
    return "principal" in (await this.verify(secret));
  }

  async revoke(name: string): Promise<void> {
    validTokenName(name);
    const deleted = await this.store.delete(keys.token(name));
    this.cache.clear();
    if (deleted === 0) throw notFound(name);
  }

  /** A new secret for an existing token, same name, role and lifetime; the old secret stops working. */
  async rotate(name: string, rotatedBy: string): Promise<{ record: TokenRecord; secret: string }> {
    validTokenName(name);
    const kv = await this.store.get(keys.token(name));
    if (!kv) throw notFound(name);
    const old = parseTokenRecord(kv.value);
    const secret = formatToken(name, this.random.hex(32));
    const ttl =
      old.expiresAt === undefined
        ? 0
        : Math.max(1, (Date.parse(old.expiresAt) - Date.parse(old.createdAt)) / 1000);
    const record = this.record(name, old.role, secret, ttl, rotatedBy);
    const result = await this.store.txn({
      confirmQuorum: true,
      compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
      success: [{ type: "put", key: kv.key, value: JSON.stringify(record) }],
    });
    this.cache.clear();
    if (!result.succeeded) {
      throw new BlixardError("CONFLICT", `token "${name}" changed concurrently; retry the rotation`);
    }
    return { record, secret };
  }

  private record(
    name: string,
    role: Role,
    secret: string,
    ttlSeconds: number,
    createdBy: string,
  ): TokenRecord {
    const now = this.clock.now();
    return {
      name,
      role,
      hash: tokenHash(secret),
      createdAt: new Date(now).toISOString(),
      ...(ttlSeconds > 0 ? { expiresAt: new Date(now + ttlSeconds * 1000).toISOString() } : {}),
      createdBy,
    };
  }
}

function validTokenName(name: string): void {
  const problem = nameProblem(name);
  if (problem) {
    throw new BlixardError("INVALID_ARGUMENT", `name: ${problem}`, {
      violations: [{ field: "name", message: problem }],
    });
  }
}

function notFound(name: string): BlixardError {
  return new BlixardError("NOT_FOUND", `no token "${name}"; list tokens with: blixard token list`);
}
