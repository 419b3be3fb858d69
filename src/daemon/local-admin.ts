/**
 * Which admin token this node's own CLI uses (`<data-dir>/token`), settled once the store is open:
 * - the first node of a store: its token becomes the token named `admin`;
 * - a node with a fresh data dir on a store that already has one (it joined a managed cluster, or
 *   shares an external etcd): it never learns that secret, so it gets an admin token of its own,
 *   named after the node, written to its token file; an admin can revoke it like any other;
 * - a node that restores a backup: its token replaces the backup's `admin` (it takes the cluster over);
 * - a restarted node whose token no longer verifies (rotated or revoked elsewhere): a warning only,
 *   never a new token, so that a restart cannot undo a revocation.
 */
import type { TokenRepository } from "../api/token-repository.js";
import type { Logger } from "../ports/logger.js";
import { writeSecretFile } from "./data-dir.js";

export interface LocalAdminOptions {
  tokens: TokenRepository;
  nodeId: string;
  /** The secret in the token file. */
  token: string;
  tokenFile: string;
  /** True when this start created the token file (a fresh data dir). */
  fresh: boolean;
  restoring: boolean;
  logger: Logger;
}

export async function settleLocalAdminToken(o: LocalAdminOptions): Promise<void> {
  if (await o.tokens.bootstrapAdmin(o.token, { replace: o.restoring })) return;
  if (!o.fresh) {
    o.logger.warn(
      { tokenFile: o.tokenFile },
      "the token file does not hold a valid token any more (rotated or revoked); put a current admin token in it",
    );
    return;
  }
  const exists = (await o.tokens.list()).some((t) => t.name === o.nodeId);
  const { secret } = exists
    ? await o.tokens.rotate(o.nodeId, o.nodeId)
    : await o.tokens.create(o.nodeId, "admin", 0, o.nodeId);
  writeSecretFile(o.tokenFile, secret);
  o.logger.info(
    { tokenFile: o.tokenFile, name: o.nodeId },
    "the store already has an admin token: wrote this node's own admin token",
  );
}
