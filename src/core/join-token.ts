/**
 * Join tokens, k3s-style: `K10<sha256 of the cluster CA certificate, hex>::join:<id>.<secret>`. The
 * joiner pins the CA from the token before it sends anything secret; the cluster stores only a hash
 * of the secret under the id, which makes tokens listable and revocable by id.
 */
import { BlixardError } from "./errors.js";

export interface JoinToken {
  caFingerprint: string;
  id: string;
  secret: string;
}

const TOKEN_RE = /^K10([0-9a-f]{64})::join:([0-9a-z]{6,32})\.([A-Za-z0-9_-]{16,128})$/;

export function formatJoinToken(token: JoinToken): string {
  return `K10${token.caFingerprint}::join:${token.id}.${token.secret}`;
}

export function parseJoinToken(text: string): JoinToken {
  const match = TOKEN_RE.exec(text.trim());
  if (!match) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      "--token: not a join token (K10<ca-sha256>::join:<id>.<secret>); create one on a member with " +
        "`blixard cluster token create` and pass it whole",
      { violations: [{ field: "token", message: "expected K10<ca-sha256>::join:<id>.<secret>" }] },
    );
  }
  return { caFingerprint: match[1]!, id: match[2]!, secret: match[3]! };
}

export function looksLikeJoinToken(text: string): boolean {
  return text.trim().startsWith("K10");
}
