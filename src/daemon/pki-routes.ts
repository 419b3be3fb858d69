/**
 * What TLS adds in front of the request handler:
 * - `GET /cacerts`: the cluster CA certificate, public like k3s's /cacerts, so that a joiner can
 *   check it against the fingerprint in its join token before it sends anything secret;
 * - `ClusterService.Join` is authenticated by the join token in its body, not by a user credential
 *   (a joiner has none): it goes to `asNode`'s credential-free handler, on every bind;
 * - requests over a connection whose client certificate the cluster CA signed come from a node
 *   (peer-identity.ts) and go to `asNode`; everything else goes to `asUser` (token checks).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Handler } from "./http-server.js";
import { nodeIdFromPeerCertificate } from "./peer-identity.js";

/** Paths open without a user credential: each authenticates its caller itself. */
export const PUBLIC_PKI_PATHS = ["/cacerts", "/blixard.v1.ClusterService/Join"] as const;

export interface PkiRoutesOptions {
  caPem: string;
  asUser: Handler;
  asNode: Handler;
}

export function withPkiRoutes(options: PkiRoutesOptions): Handler {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/cacerts" && req.method === "GET") {
      (res as ServerResponse).writeHead(200, { "content-type": "application/x-pem-file" });
      res.end(options.caPem);
      return;
    }
    if (path === PUBLIC_PKI_PATHS[1]) return options.asNode(req, res);
    const node = nodeIdFromPeerCertificate((req as IncomingMessage).socket);
    (node === undefined ? options.asUser : options.asNode)(req, res);
  };
}
