/**
 * Refuses requests that carry fields this node does not know. Connect's JSON codec is told to refuse
 * them (run-node sets `ignoreUnknownFields: false`); the binary protobuf codec keeps them aside in
 * `$unknown` instead, where they would be dropped silently: a client built from a newer or mistyped
 * schema would get defaults for what it asked. This interceptor names the message that carried one.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

interface MessageLike {
  $typeName?: string;
  $unknown?: { no: number }[];
  [field: string]: unknown;
}

/** The dotted path to the first message holding an unknown field, and the field's number. */
export function unknownFieldIn(message: unknown, path = ""): { path: string; no: number } | undefined {
  if (!message || typeof message !== "object") return undefined;
  const msg = message as MessageLike;
  const first = msg.$unknown?.[0];
  if (first) return { path: path || "(request)", no: first.no };
  for (const [key, value] of Object.entries(msg)) {
    if (key.startsWith("$")) continue;
    const at = path ? `${path}.${key}` : key;
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) {
        const found = unknownFieldIn(item, `${at}.${i}`);
        if (found) return found;
      }
    } else if (value && typeof value === "object" && "$typeName" in value) {
      const found = unknownFieldIn(value, at);
      if (found) return found;
    }
  }
  return undefined;
}

export const rejectUnknownFields: Interceptor = (next) => async (req) => {
  if (!req.stream) {
    const found = unknownFieldIn(req.message);
    if (found) {
      throw new ConnectError(
        `${found.path}: unknown field number ${found.no}; this node does not know it (is the client newer than the node, or the field misspelt?)`,
        Code.InvalidArgument,
      );
    }
  }
  return next(req);
};
