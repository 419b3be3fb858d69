/** Errors every store raises in the same words, whatever keeps its leases. */
import { BlixardError } from "../../core/errors.js";

/** `what` is the refused action, e.g. "keep alive lease 7" or `put "/k" with lease 7`. */
export function leaseNotFound(what: string): BlixardError {
  return new BlixardError(
    "LEASE_NOT_FOUND",
    `cannot ${what}: the lease has expired or was never granted; grant a new lease and put its keys again`,
  );
}
