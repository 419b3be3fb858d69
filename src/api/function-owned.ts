/**
 * Instance VMs belong to their function: the pool controller creates, replaces and stops them. A user
 * write to one (create, update, start, stop, restart, delete, a replica group of that prefix) would
 * fight the controller, so the VM API refuses names with the instance prefix and says what to use.
 */
import { BlixardError } from "../core/errors.js";
import { isInstanceName, parseInstanceName } from "../core/function-record.js";
import { validName } from "../core/names.js";

/** `name` when it is a valid name a user may write; INVALID_ARGUMENT or FAILED_PRECONDITION otherwise. */
export function userVmName(name: string, field = "name"): string {
  return refuseInstanceName(validName(name), field);
}

/** `name` unless it has the instance prefix (FAILED_PRECONDITION naming `field` then); no other check. */
export function refuseInstanceName(name: string, field: string): string {
  if (!isInstanceName(name)) return name;
  const fn = parseInstanceName(name)?.fn;
  const message = fn
    ? `VM "${name}" is an instance of function "${fn}", which manages it; change the function with: blixard fn deploy ${fn} (or fn delete ${fn})`
    : `names starting with "fn-" are reserved for function instances; choose another name`;
  throw new BlixardError("FAILED_PRECONDITION", `${field}: ${message}`, { violations: [{ field, message }] });
}
