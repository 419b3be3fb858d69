/**
 * The CA fingerprint a join token pins: SHA-256 of the CA certificate's DER, lower-case hex (as k3s's
 * `K10<hash>` tokens carry it). Any PEM layout of the same certificate gives the same fingerprint.
 */
import { createHash } from "node:crypto";
import { BlixardError } from "../core/errors.js";
import { x509 } from "./x509.js";

export function certFingerprint(certPem: string): string {
  let der: ArrayBuffer;
  try {
    der = x509.PemConverter.decodeFirst(certPem);
  } catch (err) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      "not a PEM certificate; expected -----BEGIN CERTIFICATE-----",
      {
        cause: err,
      },
    );
  }
  return createHash("sha256").update(Buffer.from(der)).digest("hex");
}
