/** VM names are DNS labels, so they are safe as directory names, hostnames and store keys. */
import { BlixardError } from "./errors.js";
export const NAME_MAX_LENGTH = 63;
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Returns why `name` is not a valid VM name, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > NAME_MAX_LENGTH)
    return `must be at most ${NAME_MAX_LENGTH} characters (got ${name.length})`;
  if (!NAME_PATTERN.test(name)) {
    return "must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}

/** `name` when it is a valid name, else INVALID_ARGUMENT naming the `name` field (a request's edge check). */
export function validName(name: string): string {
  const problem = nameProblem(name);
  if (problem) {
    throw new BlixardError("INVALID_ARGUMENT", `name: ${problem}`, {
      violations: [{ field: "name", message: problem }],
    });
  }
  return name;
}
