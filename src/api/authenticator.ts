/**
 * Authentication as a list of credential checkers, tried in order: each looks at the request's
 * credentials and either names the principal, refuses with a reason, or passes (no credential of its
 * kind). The bearer-token checker is the only one today; a client-certificate checker for node-to-node
 * calls slots in beside it without touching the policy.
 */
import type { Principal } from "../core/roles.js";
import type { TokenRepository } from "./token-repository.js";

/** What a checker sees of a request. */
export interface Credentials {
  /** The Authorization header, if any. */
  authorization: string | undefined;
  /** The verified peer certificate of a TLS client, if any (subject CN and fingerprint). */
  peerCertificate?: { subject: string; fingerprint256: string } | undefined;
}

export type CheckResult = { principal: Principal } | { problem: string } | undefined;

export type CredentialChecker = (credentials: Credentials) => Promise<CheckResult>;

/** The first checker with an answer decides; none means the request carried no credential. */
export async function authenticate(
  checkers: readonly CredentialChecker[],
  credentials: Credentials,
): Promise<CheckResult> {
  for (const check of checkers) {
    const result = await check(credentials);
    if (result !== undefined) return result;
  }
  return undefined;
}

/** `Authorization: Bearer <token>`, verified against the token records in the store. */
export function bearerTokenChecker(tokens: TokenRepository): CredentialChecker {
  return async ({ authorization }) => {
    if (authorization === undefined) return undefined;
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization);
    if (!match) return { problem: "the Authorization header must read: Bearer <token>" };
    return tokens.verify(match[1]!);
  };
}
