/** How a transaction compare is decided, shared by every Store backend so they cannot disagree. */
import type { CompareOp } from "../../ports/store.js";

/** `actual` is the key's field, 0 for a missing key (so "createRevision = 0" means "does not exist"). */
export function compareHolds(actual: number, op: CompareOp, value: number): boolean {
  switch (op) {
    case "=":
      return actual === value;
    case "!=":
      return actual !== value;
    case "<":
      return actual < value;
    case ">":
      return actual > value;
  }
}
