import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatJoinToken, parseJoinToken } from "../core/join-token.js";
import { createClusterCa, loadCa } from "./cluster-ca.js";
import { initClusterPki, renewNodeCertIfDue } from "./cluster-pki.js";
import { certFingerprint } from "./fingerprint.js";
import { createNodeCsr, issueOwnNodeCert, nodeIdOfCert, signNodeCsr } from "./node-cert.js";
import { pkiLayout, readPki, writePki } from "./pki-files.js";

const now = new Date("2026-01-01T00:00:00Z");

describe("cluster PKI", async () => {
  const caMaterial = await createClusterCa("test", now);
  const ca = await loadCa(caMaterial);
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("creates an ECDSA P-256 CA that signs node certificates for the node's addresses", async () => {
    const caCert = new X509Certificate(caMaterial.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const { csrPem } = await createNodeCsr("node-a");
    const cert = new X509Certificate(
      await signNodeCsr(ca, { csrPem, nodeId: "node-a", hosts: ["10.0.0.5", "a.example"], now }),
    );
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIP("10.0.0.5")).toBe("10.0.0.5");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkHost("a.example")).toBe("a.example");
    // Not valid for an address the node does not have: a stolen certificate cannot impersonate others.
    expect(cert.checkIP("10.0.0.6")).toBeUndefined();
    expect(nodeIdOfCert(cert.raw)).toBe("node-a");
  });

  it("refuses a CSR for another node's id (a joiner cannot obtain a certificate naming someone else)", async () => {
    const { csrPem } = await createNodeCsr("node-b");
    await expect(signNodeCsr(ca, { csrPem, nodeId: "node-a", hosts: [], now })).rejects.toThrow(
      /names node "node-b"/,
    );
  });

  it("refuses a CSR whose signature does not match its key (a tampered request)", async () => {
    const { csrPem } = await createNodeCsr("node-a");
    const body = csrPem
      .split("\n")
      .filter((l) => !l.startsWith("-----"))
      .join("");
    const der = Buffer.from(body, "base64");
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff; // flip a byte of the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(signNodeCsr(ca, { csrPem: tampered, nodeId: "node-a", hosts: [], now })).rejects.toThrow(
      /csr:/,
    );
  });

  it("a certificate from another CA does not verify against this one", async () => {
    const other = await loadCa(await createClusterCa("other", now));
    const forged = await issueOwnNodeCert(other, "node-a", [], now);
    expect(
      new X509Certificate(forged.certPem).verify(new X509Certificate(caMaterial.certPem).publicKey),
    ).toBe(false);
  });

  it("fingerprints the CA as the SHA-256 of its DER, matching openssl's", () => {
    const fp = certFingerprint(caMaterial.certPem);
    expect(fp).toBe(new X509Certificate(caMaterial.certPem).fingerprint256.replaceAll(":", "").toLowerCase());
    const token = formatJoinToken({ caFingerprint: fp, id: "abc123", secret: "s".repeat(32) });
    expect(parseJoinToken(token)).toEqual({ caFingerprint: fp, id: "abc123", secret: "s".repeat(32) });
    expect(() => parseJoinToken("0123456789abcdef0123")).toThrow(/not a join token/);
  });

  it("writes keys 0600 in a 0700 directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "blixard-pki-"));
    dirs.push(dir);
    const pki = pkiLayout(dir);
    const own = await issueOwnNodeCert(ca, "node-a", [], now);
    writePki(pki, { caPem: caMaterial.certPem, caKeyPem: caMaterial.keyPem, ...own });
    expect(statSync(pki.dir).mode & 0o777).toBe(0o700);
    expect(statSync(pki.caKey).mode & 0o777).toBe(0o600);
    expect(statSync(pki.nodeKey).mode & 0o777).toBe(0o600);
    expect(readPki(pki).caKeyPem).toBe(caMaterial.keyPem);
  });

  it("renews a node certificate within 30 days of its expiry, with a new key, and not before", async () => {
    const dir = mkdtempSync(join(tmpdir(), "blixard-pki-renew-"));
    dirs.push(dir);
    const pki = pkiLayout(dir);
    const first = await initClusterPki(pki, "node-a", ["10.0.0.1"], now);
    const later = (days: number) => new Date(now.getTime() + days * 86_400_000);
    expect(await renewNodeCertIfDue(pki, "node-a", ["10.0.0.1"], later(300))).toBe(false);
    expect(await renewNodeCertIfDue(pki, "node-a", ["10.0.0.1"], later(340))).toBe(true);
    const renewed = readPki(pki);
    expect(renewed.keyPem).not.toBe(first.keyPem);
    const cert = new X509Certificate(renewed.certPem);
    expect(Date.parse(cert.validTo)).toBeGreaterThan(later(700).getTime());
    expect(cert.verify(new X509Certificate(first.caPem).publicKey)).toBe(true);
    expect(cert.checkIP("10.0.0.1")).toBe("10.0.0.1");
  });
});
