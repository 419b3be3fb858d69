/**
 * @peculiar/x509 on Node's WebCrypto: one place that installs the crypto provider, makes ECDSA P-256
 * key pairs and turns keys into the PEM files that etcd (Go) and Node's tls read.
 */
import { webcrypto } from "node:crypto";
import "reflect-metadata";

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

export const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
export const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

export function newKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
}

/** PKCS#8 PEM ("PRIVATE KEY"): read by Go's tls.X509KeyPair and by Node. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return (await webcrypto.subtle.importKey("pkcs8", der, EC_P256, true, ["sign"])) as CryptoKey;
}

/** A random positive serial number: 16 bytes, high bit clear. */
export function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}
