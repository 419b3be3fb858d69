/**
 * Which node is calling: the node id in the client certificate of a TLS connection, when that
 * certificate was verified against the cluster CA. Node-to-node calls (log routing) present their
 * node certificate instead of any user credential; the auth layer treats the result as a `node`
 * principal. Undefined for cleartext connections, connections without a certificate, and
 * certificates the CA did not sign (the server asks for a certificate but lets those through, to
 * be authenticated by a token instead).
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { nodeIdOfCert } from "../pki/node-cert.js";

/**
 * Parsed once per connection: the certificate cannot change on a TLS connection, and parsing X.509
 * in JavaScript on every request cost two thirds of the throughput of a keep-alive client.
 */
const known = new WeakMap<object, string | undefined>();
/**
 * And once per certificate: clients that open a connection per call (or the proxies HTTP/2 hands out
 * as each request's socket) would otherwise parse the same certificate every time; the profile of a
 * 3-node cluster under creates found it there. Bounded: a burst of distinct certificates starts it afresh.
 */
const byFingerprint = new Map<string, string | undefined>();
const MAX_FINGERPRINTS = 1024;

export function nodeIdFromPeerCertificate(socket: Socket | TLSSocket | undefined | null): string | undefined {
  const tls = socket as TLSSocket | undefined | null;
  if (!tls || typeof tls.getPeerCertificate !== "function" || tls.authorized !== true) return undefined;
  if (known.has(tls)) return known.get(tls);
  const cert = tls.getPeerCertificate();
  const fingerprint = cert?.fingerprint256;
  let id: string | undefined;
  if (fingerprint && byFingerprint.has(fingerprint)) id = byFingerprint.get(fingerprint);
  else {
    id = cert?.raw ? nodeIdOfCert(new Uint8Array(cert.raw)) : undefined;
    if (fingerprint) {
      if (byFingerprint.size >= MAX_FINGERPRINTS) byFingerprint.clear();
      byFingerprint.set(fingerprint, id);
    }
  }
  known.set(tls, id);
  return id;
}
