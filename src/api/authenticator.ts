/**
 * Authentication as a list of credential checkers, tried in order: each looks at the request's
 * credentials and either names the principal, refuses with a reason, or passes (no credential of its
 * kind). Users present bearer tokens; other nodes of the cluster present their node certificate.
 */
import type { Principal } from "../core/roles.js";
import type { TokenRepository } from "./token-repository.js";

/** What a checker sees of a request. */
export interface Credentials {
  /** The Authorization header, if any. */
  authorization: string | undefined;
  /**
   * The node id in the TLS client certificate, present only when the cluster CA signed that
   * certificate (daemon/peer-identity.ts).
   */
  peerNodeId?: string | undefined;
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

/**
 * A client certificate signed by the cluster CA: another node of the cluster. It reads as a viewer,
 * which is what log routing needs and no more than its etcd client certificate already lets it read.
 */
export function nodeCertificateChecker(): CredentialChecker {
  return async ({ peerNodeId }) =>
    peerNodeId === undefined ? undefined : { principal: { name: `node:${peerNodeId}`, role: "viewer" } };
}
