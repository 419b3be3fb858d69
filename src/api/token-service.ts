/**
 * The TokenService handlers: named API tokens with a role. The policy table makes every method
 * admin-only; requests are validated here, once.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { BlixardError } from "../core/errors.js";
import { isRole, ROLES } from "../core/roles.js";
import { ADMIN_TOKEN_NAME, type TokenRecord } from "../core/tokens.js";
import type { TokenService } from "../gen/blixard/v1/token_pb.js";
import { actorOf } from "./principal-context.js";
import type { TokenRepository } from "./token-repository.js";

/** Ten years: longer lifetimes are a token that does not expire, which is said with 0. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

export function tokenServiceImpl(tokens: TokenRepository): ServiceImpl<typeof TokenService> {
  return {
    async createToken(req, ctx) {
      if (!isRole(req.role)) {
        const message = `must be one of ${ROLES.join(", ")} (got "${req.role}")`;
        throw new BlixardError("INVALID_ARGUMENT", `role: ${message}`, {
          violations: [{ field: "role", message }],
        });
      }
      if (req.ttlSeconds > MAX_TTL_SECONDS) {
        const message = `at most ${MAX_TTL_SECONDS} seconds (ten years); 0 means no expiry`;
        throw new BlixardError("INVALID_ARGUMENT", `ttl_seconds: ${message}`, {
          violations: [{ field: "ttl_seconds", message }],
        });
      }
      const { record, secret } = await tokens.create(
        req.name,
        req.role,
        req.ttlSeconds,
        actorOf(ctx)?.name ?? "",
      );
      return { token: toInfo(record), secret };
    },

    async listTokens() {
      return { tokens: (await tokens.list()).map(toInfo) };
    },

    async revokeToken(req) {
      if (req.name === ADMIN_TOKEN_NAME) {
        // Revoking it would lock out the local CLI and every node that routes with it.
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `the ${ADMIN_TOKEN_NAME} token cannot be revoked; replace its secret with: blixard token rotate ${ADMIN_TOKEN_NAME}`,
        );
      }
      await tokens.revoke(req.name);
      return { name: req.name };
    },

    async rotateToken(req, ctx) {
      const { record, secret } = await tokens.rotate(req.name, actorOf(ctx)?.name ?? "");
      return { token: toInfo(record), secret };
    },
  };
}

function toInfo(record: TokenRecord) {
  return {
    name: record.name,
    role: record.role,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt ?? "",
    createdBy: record.createdBy,
  };
}
