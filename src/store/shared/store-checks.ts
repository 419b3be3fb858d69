/**
 * Checks of store requests, shared by every backend (SQLite, etcd and the simulator's memory store) so that they reject the same inputs with the same
 * messages before anything is written: what etcd rejects (empty keys, a key written twice in one
 * transaction, bad TTLs), plus well-formed UTF-16 text, because both SQLite and etcd store UTF-8 and
 * a lone surrogate would silently become U+FFFD, so a key read back would differ from the key written.
 */
import { BlixardError } from "../../core/errors.js";
import type { TxnOp, TxnRequest } from "../../ports/store.js";
import { leaseNotFound } from "./store-errors.js";

const LONE_SURROGATE = /\p{Cs}/u;

function invalid(message: string): BlixardError {
  return new BlixardError("INVALID_ARGUMENT", message);
}

export function checkText(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) {
    throw invalid(`${what} contains a lone UTF-16 surrogate; store only well-formed Unicode text`);
  }
}

export function checkKey(key: string): void {
  if (key.length === 0) throw invalid("the key is empty; give a non-empty key");
  checkText(key, `key ${JSON.stringify(key)}`);
}

export function checkPositiveInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${what} must be a positive integer, got ${value}`);
  }
}

/** Like etcd, a branch may not write a key twice, or both put and delete it: the result would depend on order. */
function checkBranch(ops: readonly TxnOp[], branch: string): void {
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.type === "put") {
      checkKey(op.key);
      checkText(op.value, `the value of ${JSON.stringify(op.key)}`);
      if (puts.has(op.key)) {
        throw invalid(`the ${branch} branch puts ${JSON.stringify(op.key)} twice; put each key once`);
      }
      puts.add(op.key);
    }
  }
  for (const op of ops) {
    if (op.type === "delete") {
      checkKey(op.key);
      if (puts.has(op.key)) {
        throw invalid(`the ${branch} branch both puts and deletes ${JSON.stringify(op.key)}; do only one`);
      }
    } else if (op.type === "deletePrefix") {
      checkText(op.prefix, "the prefix");
      const clash = [...puts].find((key) => key.startsWith(op.prefix));
      if (clash !== undefined) {
        throw invalid(
          `the ${branch} branch puts ${JSON.stringify(clash)} and deletes its prefix ` +
            `${JSON.stringify(op.prefix)}; do only one`,
        );
      }
    }
  }
}

export function checkTxn(request: TxnRequest): void {
  for (const compare of request.compare) {
    checkKey(compare.key);
    if (!Number.isSafeInteger(compare.value)) {
      throw invalid(`the compare on ${JSON.stringify(compare.key)} needs an integer value`);
    }
  }
  checkBranch(request.success, "success");
  checkBranch(request.failure ?? [], "failure");
}

/** Checks a range request; returns its limit (0: no cap). */
export function checkRange(prefix: string, options: { limit?: number }): number {
  checkText(prefix, "the prefix");
  const limit = options.limit ?? 0;
  if (limit !== 0) checkPositiveInteger(limit, "the range limit");
  return limit;
}

/**
 * A range with a limit in a store that reads its own table: it fetches one entry past the limit, which
 * tells whether the limit cut the result, and converts only the entries it returns.
 */
export function cutAtLimit<R, T>(
  limit: number,
  fetch: (count: number) => R[],
  convert: (row: R) => T,
): { kvs: T[]; more: boolean } {
  const found = fetch(limit === 0 ? 0 : limit + 1);
  const more = limit !== 0 && found.length > limit;
  return { kvs: (more ? found.slice(0, limit) : found).map(convert), more };
}

/** Fails a branch before it writes anything if one of its puts names a lease that is not live. */
export function checkPutLeases(ops: readonly TxnOp[], isLive: (leaseId: number) => boolean): void {
  for (const op of ops) {
    if (op.type === "put" && op.lease && !isLive(op.lease)) {
      throw leaseNotFound(`put ${JSON.stringify(op.key)} with lease ${op.lease}`);
    }
  }
}
