/**
 * One HTTPS request with the cluster's TLS material: the CA to verify the server against, and a
 * client certificate when the server asks for one (etcd with --client-cert-auth, a node's API).
 * Node's fetch cannot take a custom CA per request, hence node:https.
 */
import { request } from "node:https";
import type { PeerCertificate, TLSSocket } from "node:tls";

export interface HttpsTls {
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  /** Skip verification (only to fetch a CA that is then checked against a pinned fingerprint). */
  insecure?: boolean;
}

export interface HttpsReply {
  status: number;
  body: string;
  /** The certificate chain the server presented, leaf first. */
  peerChain: PeerCertificate[];
}

export function httpsRequest(
  url: string,
  tls: HttpsTls,
  options: { method?: string; body?: string; timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        ...(tls.caPem === undefined ? {} : { ca: tls.caPem }),
        ...(tls.certPem === undefined ? {} : { cert: tls.certPem }),
        ...(tls.keyPem === undefined ? {} : { key: tls.keyPem }),
        rejectUnauthorized: tls.insecure !== true,
        headers: options.headers ?? {},
        timeout: options.timeoutMs ?? 5_000,
        agent: false,
      },
      (res) => {
        const chain = peerChain(res.socket as TLSSocket);
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            peerChain: chain,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 5000} ms`)),
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

function peerChain(socket: TLSSocket): PeerCertificate[] {
  const chain: PeerCertificate[] = [];
  let cert = socket.getPeerCertificate?.(true) as
    | (PeerCertificate & { issuerCertificate?: PeerCertificate })
    | undefined;
  while (cert?.raw && !chain.some((c) => c.fingerprint256 === cert?.fingerprint256)) {
    chain.push(cert);
    cert = cert.issuerCertificate as typeof cert;
  }
  return chain;
}
