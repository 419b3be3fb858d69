/**
 * Carries the authenticated principal from the HTTP layer into the Connect handlers, and authorizes
 * every RPC against the policy table (core/policy.ts) in one interceptor, so no handler can forget to.
 * Handlers read the principal for per-field checks and to record the actor of events.
 */
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { decide } from "../core/policy.js";
import type { Principal } from "../core/roles.js";

export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "principal" });

const bound = new WeakMap<object, Principal>();

/** Called by the request handler once it has authenticated `req`. */
export function bindPrincipal(req: object, principal: Principal): void {
  bound.set(req, principal);
}

/** The connectNodeAdapter's `contextValues`: the principal the request handler bound to `req`. */
export function principalValues(req: object): ContextValues {
  return createContextValues().set(principalKey, bound.get(req));
}

/** Denies every RPC the table does not allow for the caller, before its handler runs. */
export const authorize: Interceptor = (next) => async (req) => {
  const verdict = decide(`/${req.service.typeName}/${req.method.name}`, req.contextValues.get(principalKey));
  if (!verdict.allow) {
    throw new ConnectError(
      verdict.message,
      verdict.status === "unauthenticated" ? Code.Unauthenticated : Code.PermissionDenied,
    );
  }
  return next(req);
};

/** The principal of a handler's request; "system" when none (a public RPC, or a test without auth). */
export function actorOf(ctx: HandlerContext | undefined): Principal | undefined {
  return ctx?.values.get(principalKey);
}
