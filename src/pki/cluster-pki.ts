/**
 * The node-side PKI steps: forming a cluster creates the CA and the node's own certificate; a node
 * that holds the CA signs joiners' CSRs; a joiner stores what the cluster sent back.
 */
import { X509Certificate } from "node:crypto";
import { BlixardError } from "../core/errors.js";
import { createClusterCa, loadCa } from "./cluster-ca.js";
import { certFingerprint } from "./fingerprint.js";
import { issueOwnNodeCert, signNodeCsr } from "./node-cert.js";
import { type PkiLayout, type PkiMaterial, readPki, writePki } from "./pki-files.js";

/** `--cluster-init`: a new CA, and this node's certificate for `hosts`. */
export async function initClusterPki(
  pki: PkiLayout,
  nodeId: string,
  hosts: readonly string[],
  now: Date,
): Promise<PkiMaterial> {
  const ca = await createClusterCa(nodeId, now);
  const own = await issueOwnNodeCert(await loadCa(ca), nodeId, hosts, now);
  const material = { caPem: ca.certPem, caKeyPem: ca.keyPem, ...own };
  writePki(pki, material);
  return material;
}

/** What a member hands a joiner it admitted: the CA (key included: every member can admit) and its certificate. */
export interface IssuedPki {
  caPem: string;
  caKeyPem: string;
  certPem: string;
}

export async function signJoiner(
  pki: PkiLayout,
  req: { csrPem: string; nodeId: string; hosts: readonly string[]; now: Date },
): Promise<IssuedPki> {
  const material = readPki(pki);
  const certPem = await signNodeCsr(
    await loadCa({ certPem: material.caPem, keyPem: material.caKeyPem }),
    req,
  );
  return { caPem: material.caPem, caKeyPem: material.caKeyPem, certPem };
}

/** The joiner's side: the CA must be the pinned one; the key never left this node. */
export function storeJoinedPki(pki: PkiLayout, issued: IssuedPki, keyPem: string, pinned: string): void {
  const got = certFingerprint(issued.caPem);
  if (got !== pinned) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `the cluster sent a CA certificate (sha256 ${got}) other than the one the join token pins (${pinned}); ` +
        "check you copied the token from this cluster",
    );
  }
  writePki(pki, { caPem: issued.caPem, caKeyPem: issued.caKeyPem, certPem: issued.certPem, keyPem });
}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * Renews this node's certificate when it expires within 30 days (certificates last a year), with a
 * new key, for the same hosts plus `hosts`. Only a node holding the CA key can. Returns whether it did.
 */
export async function renewNodeCertIfDue(
  pki: PkiLayout,
  nodeId: string,
  hosts: readonly string[],
  now: Date,
): Promise<boolean> {
  const material = readPki(pki);
  const cert = new X509Certificate(material.certPem);
  if (Date.parse(cert.validTo) - now.getTime() > RENEW_BEFORE_MS) return false;
  const ca = await loadCa({ certPem: material.caPem, keyPem: material.caKeyPem });
  const own = await issueOwnNodeCert(ca, nodeId, hosts, now);
  writePki(pki, { caPem: material.caPem, caKeyPem: material.caKeyPem, ...own });
  return true;
}
