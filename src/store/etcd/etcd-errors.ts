/**
 * etcd's failures as BlixardErrors, and which failures a call may retry. The etcd3 library reports
 * gRPC statuses as error classes whose messages carry etcd's own error text, so both are matched.
 *
 * Retrying is only safe when the request cannot have been applied: a read may always be repeated,
 * but a write only when it never left this process (no connection) or etcd refused it before
 * proposing it. Any other failure of a write is ambiguous, and the error says so.
 */
import {
  ClientClosedError,
  EtcdLeaseInvalidError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCUnavailableError,
} from "etcd3";
import { BlixardError, errorMessage, isBlixardError } from "../../core/errors.js";
import { leaseNotFound } from "../shared/store-errors.js";

export type CallKind = "read" | "write";

export interface CallContext {
  /** What the call was for, completing "cannot …", e.g. `put "/k"`. */
  what: string;
  kind: CallKind;
  endpoints: readonly string[];
  timeoutMs: number;
  /** The write was never proposed: its quorum check failed first. */
  notAttempted?: boolean;
}

const has = (err: unknown, text: string) => errorMessage(err).includes(text);

/** The request never reached etcd, or etcd turned it away before proposing it: nothing was applied. */
export function wasNotSent(err: unknown): boolean {
  return (
    has(err, "No connection established") ||
    has(err, "Channel closed before call started") ||
    has(err, "etcdserver: too many requests")
  );
}

/** The member is down, unreachable, or cannot serve right now (lost quorum, leader election). */
function isUnavailability(err: unknown): boolean {
  return (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCCancelledError ||
    wasNotSent(err) ||
    has(err, "etcdserver: request timed out") ||
    has(err, "etcdserver: leader changed") ||
    has(err, "etcdserver: no leader") ||
    has(err, "context canceled")
  );
}

export function isRetryable(err: unknown, kind: CallKind): boolean {
  return kind === "read" ? isUnavailability(err) : wasNotSent(err);
}

/**
 * The deadline passed: seen by this process, or by etcd, which gets the deadline with the request and
 * then answers with Go's bare context error.
 */
function isDeadline(err: unknown): boolean {
  return err instanceof GRPCDeadlineExceededError || has(err, "context deadline exceeded");
}

/** Whether the member that failed should be given up for another endpoint. */
export function blamesEndpoint(err: unknown): boolean {
  return isUnavailability(err) || isDeadline(err);
}

export function storeClosed(): BlixardError {
  return new BlixardError(
    "UNAVAILABLE",
    "the etcd store is closed; connect again (the daemon closes it when it shuts down)",
  );
}

function unreachable(err: unknown, context: CallContext, deadline: boolean): BlixardError {
  const cluster = `the etcd cluster at ${context.endpoints.join(", ")}`;
  const cause = deadline
    ? `${cluster} did not answer within ${context.timeoutMs} ms`
    : `${cluster} is unavailable (${errorMessage(err)})`;
  const outcome = context.notAttempted
    ? " Nothing was written."
    : context.kind === "read" || wasNotSent(err)
      ? ""
      : " The write may still be applied: read the key back before repeating it.";
  return new BlixardError(
    deadline ? "DEADLINE_EXCEEDED" : "UNAVAILABLE",
    `cannot ${context.what}: ${cause}; it is unreachable or has lost quorum, so check that a majority ` +
      `of its members are running and can reach each other.${outcome}`,
    { cause: err },
  );
}

export function toStoreError(err: unknown, context: CallContext): BlixardError {
  if (isBlixardError(err)) return err;
  if (err instanceof ClientClosedError) return storeClosed();
  const { what } = context;
  if (err instanceof EtcdLeaseInvalidError || has(err, "requested lease not found"))
    return leaseNotFound(what);
  if (has(err, "required revision has been compacted")) {
    return new BlixardError(
      "COMPACTED",
      `cannot ${what}: etcd has compacted the history at that revision; use a later revision`,
      { cause: err },
    );
  }
  if (has(err, "required revision is a future revision")) {
    return new BlixardError(
      "INVALID_ARGUMENT",
      `cannot ${what}: the store has not reached that revision; use the current revision or an earlier one`,
      { cause: err },
    );
  }
  if (has(err, "database space exceeded")) {
    return new BlixardError(
      "UNAVAILABLE",
      `cannot ${what}: etcd is out of space (NOSPACE alarm); compact and defragment it, then disarm the alarm`,
      { cause: err },
    );
  }
  if (err instanceof GRPCInvalidArgumentError) {
    return new BlixardError("INVALID_ARGUMENT", `etcd refused to ${what}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (isDeadline(err)) return unreachable(err, context, true);
  if (isUnavailability(err)) return unreachable(err, context, false);
  return new BlixardError("INTERNAL", `etcd failed to ${what}: ${errorMessage(err)}`, { cause: err });
}
