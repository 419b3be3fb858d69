/**
 * The cluster CA: created once by `--cluster-init` (ECDSA P-256, ten years), it signs every node's
 * certificate. Its key never leaves the nodes that hold it.
 */
import { BlixardError } from "../core/errors.js";
import {
  type CryptoKey,
  importPrivateKey,
  newKeyPair,
  privateKeyPem,
  SIGNING,
  serialNumber,
  x509,
} from "./x509.js";

export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

export async function createClusterCa(clusterName: string, now: Date): Promise<CaMaterial> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [`blixard-ca@${clusterName}`] }, { O: ["blixard"] }],
    // Backdated an hour: a joining node whose clock runs slightly behind still accepts it.
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + TEN_YEARS_MS),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}

export interface LoadedCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

export async function loadCa(material: CaMaterial): Promise<LoadedCa> {
  try {
    return { cert: new x509.X509Certificate(material.certPem), key: await importPrivateKey(material.keyPem) };
  } catch (err) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      "the cluster CA in the data dir's pki/ is damaged; restore pki/ca.crt and pki/ca.key from a backup",
      { cause: err },
    );
  }
}
