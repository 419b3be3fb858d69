/**
 * Node certificates: a node makes its own key and a CSR naming its id and addresses; a node holding
 * the CA checks the CSR's signature and signs a certificate for it (client and server use: the same
 * certificate serves the API, the etcd member, and authenticates the node to etcd and other nodes).
 * The node id is the subject CN and a `blixard-node:<id>` URI SAN.
 */
import { isIP } from "node:net";
import { BlixardError } from "../core/errors.js";
import type { LoadedCa } from "./cluster-ca.js";
import { newKeyPair, privateKeyPem, SIGNING, serialNumber, x509 } from "./x509.js";

export interface NodeKeyAndCsr {
  keyPem: string;
  csrPem: string;
}

const NODE_URI_PREFIX = "blixard-node:";
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

export async function createNodeCsr(nodeId: string): Promise<NodeKeyAndCsr> {
  const keys = await newKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [nodeId] }],
    keys,
    signingAlgorithm: SIGNING,
  });
  return { keyPem: await privateKeyPem(keys.privateKey), csrPem: csr.toString("pem") };
}

export interface SignRequest {
  csrPem: string;
  nodeId: string;
  /** The node's addresses and names; 127.0.0.1, ::1 and localhost are always added for local use. */
  hosts: readonly string[];
  now: Date;
}

/** Signs a node's CSR. The CSR must be self-signed by its key and name the same node id. */
export async function signNodeCsr(ca: LoadedCa, req: SignRequest): Promise<string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(req.csrPem);
  } catch (err) {
    throw new BlixardError("INVALID_ARGUMENT", "csr: not a PEM certificate request (PKCS#10)", {
      cause: err,
    });
  }
  if (!(await csr.verify())) {
    throw new BlixardError("INVALID_ARGUMENT", "csr: its signature does not match its public key");
  }
  const cn = csr.subjectName.getField("CN")[0];
  if (cn !== req.nodeId) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `csr: names node "${cn}" but the request is for "${req.nodeId}"`,
    );
  }
  return issue(ca, csr.publicKey, req);
}

async function issue(ca: LoadedCa, publicKey: x509.PublicKey, req: SignRequest): Promise<string> {
  const hosts = [...new Set([...req.hosts, "127.0.0.1", "::1", "localhost"])];
  const names: x509.JsonGeneralNames = [
    ...hosts.map((h) => (isIP(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h })),
    { type: "url" as const, value: `${NODE_URI_PREFIX}${req.nodeId}` },
  ];
  const notAfter = Math.min(req.now.getTime() + ONE_YEAR_MS, ca.cert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [req.nodeId] }, { O: ["blixard-nodes"] }],
    issuer: ca.cert.subjectName,
    notBefore: new Date(req.now.getTime() - 3600_000),
    notAfter: new Date(notAfter),
    publicKey,
    signingKey: ca.key,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return cert.toString("pem");
}

/** A fresh key and a certificate for it, signed directly (the node that holds the CA). */
export async function issueOwnNodeCert(
  ca: LoadedCa,
  nodeId: string,
  hosts: readonly string[],
  now: Date,
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await newKeyPair();
  const publicKey = await x509.PublicKey.create(keys.publicKey);
  const certPem = await issue(ca, publicKey, { csrPem: "", nodeId, hosts, now });
  return { certPem, keyPem: await privateKeyPem(keys.privateKey) };
}

/** The node id a node certificate names (URI SAN `blixard-node:<id>`), or undefined. */
export function nodeIdOfCert(certDer: Uint8Array): string | undefined {
  try {
    const cert = new x509.X509Certificate(certDer);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const uri = san?.names.items.find((n) => n.type === "url" && n.value.startsWith(NODE_URI_PREFIX));
    return uri?.value.slice(NODE_URI_PREFIX.length);
  } catch {
    return undefined;
  }
}
