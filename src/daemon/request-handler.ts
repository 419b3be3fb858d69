/**
 * The node's HTTP handler. Every request, on every address (loopback too: qemu user networking maps a
 * guest's 10.0.2.2 to the host's loopback, and any local user can reach it), goes through:
 * 1. the Host/Origin check (host-check.ts) against DNS rebinding and cross-origin browser requests;
 * 2. authentication by the credential checkers (api/authenticator.ts), 401 without a valid credential;
 * 3. the policy table (core/policy.ts): here for /metrics, in the Connect `authorize` interceptor for RPCs.
 * Only /healthz (and whatever the table marks public) is served without a credential.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Registry } from "prom-client";
import { authenticate, type CredentialChecker, type Credentials } from "../api/authenticator.js";
import { bindPrincipal } from "../api/principal-context.js";
import { errorMessage } from "../core/errors.js";
import { accessOf, decide } from "../core/policy.js";
import type { HostCheck } from "./host-check.js";
import type { Handler } from "./http-server.js";
import { nodeIdFromPeerCertificate } from "./peer-identity.js";

export interface RequestHandlerOptions {
  connect: Handler;
  registry: Registry;
  checkers: readonly CredentialChecker[];
  hostCheck: HostCheck;
  /** The cluster CA certificate, served at /cacerts, on nodes with a PKI. */
  caPem?: string | undefined;
  /**
   * Another node's function gateway forwarding a request to an instance on this node
   * (`/fn-peer/<vm>/...`): served only to a node certificate of the cluster.
   */
  functionPeer?: ((vm: string, path: string, req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export function createRequestHandler(options: RequestHandlerOptions): Handler {
  return (req: Req, res: Res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const misdirected = options.hostCheck.problem(req.headers);
    if (misdirected) return reply(res, misdirected.status, "text/plain", misdirected.message);
    if (accessOf(path) === "public") return serve(options, path, req, res);
    authenticate(options.checkers, credentials(req)).then(
      (result) => {
        if (result === undefined || "problem" in result) {
          const why = result === undefined ? "no credential" : result.problem;
          const message = `unauthenticated (${why}): send Authorization: Bearer <token>; the CLI reads BLIXARD_TOKEN, --token-file or <data-dir>/token`;
          // A Connect error body, so that clients show the reason (an expired or revoked token).
          return reply(res, 401, "application/json", JSON.stringify({ code: "unauthenticated", message }));
        }
        bindPrincipal(req, result.principal);
        const peer = /^\/fn-peer\/([^/?]+)(.*)$/.exec(req.url ?? "");
        if (peer && options.functionPeer) {
          // A user token must not reach instances past the gateway's own routing and accounting.
          if (nodeIdFromPeerCertificate(req.socket) === undefined) {
            return reply(res, 403, "text/plain", "only cluster nodes may forward to function instances\n");
          }
          const rest = peer[2] ?? "";
          return options.functionPeer(
            peer[1]!,
            rest.startsWith("/") ? rest : `/${rest}`,
            req as IncomingMessage,
            res as ServerResponse,
          );
        }
        // RPCs are authorized by the Connect interceptor, which answers in the caller's protocol.
        if (path === "/metrics" || path === "/healthz") {
          const verdict = decide(path, result.principal);
          if (!verdict.allow) return reply(res, 403, "text/plain", `${verdict.message}\n`);
        }
        serve(options, path, req, res);
      },
      (err: unknown) =>
        reply(
          res,
          503,
          "application/json",
          JSON.stringify({
            code: "unavailable",
            message: `cannot check the credential now (the store did not answer: ${errorMessage(err)}); retry when the cluster has quorum`,
          }),
        ),
    );
  };
}

function serve(options: RequestHandlerOptions, path: string, req: Req, res: Res): void {
  if (path === "/healthz") {
    reply(res, 200, "text/plain", "ok\n");
    return;
  }
  if (path === "/cacerts") {
    if (options.caPem === undefined) reply(res, 404, "text/plain", "this node has no cluster CA\n");
    else reply(res, 200, "application/x-pem-file", options.caPem);
    return;
  }
  if (path === "/metrics") {
    options.registry.metrics().then(
      (text) => reply(res, 200, options.registry.contentType, text),
      (err: unknown) => reply(res, 500, "text/plain", `metrics failed: ${String(err)}\n`),
    );
    return;
  }
  options.connect(req, res);
}

function credentials(req: Req): Credentials {
  const header = req.headers.authorization;
  return {
    authorization: typeof header === "string" ? header : undefined,
    peerNodeId: nodeIdFromPeerCertificate(req.socket),
  };
}

function reply(res: Res, status: number, type: string, body: string): void {
  if (res.headersSent) return void res.end();
  (res as ServerResponse).writeHead(status, { "content-type": type });
  res.end(body);
}
