/**
 * `<data-dir>/pki/`: the cluster CA (ca.crt, ca.key) and this node's certificate (node.crt, node.key).
 * The directory is 0700 and every key 0600; certificates are public but kept 0644 in the same place.
 * A node with a pki/ directory is in a cluster: its API serves TLS, its etcd speaks mutual TLS.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BlixardError } from "../core/errors.js";

export interface PkiLayout {
  dir: string;
  caCert: string;
  caKey: string;
  nodeCert: string;
  nodeKey: string;
}

export function pkiLayout(dataDir: string): PkiLayout {
  const dir = join(dataDir, "pki");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    nodeCert: join(dir, "node.crt"),
    nodeKey: join(dir, "node.key"),
  };
}

/** What a node needs for TLS: the CA to verify peers, its own certificate and key to present. */
export interface NodeTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface PkiMaterial extends NodeTls {
  caKeyPem: string;
}

export function hasPki(pki: PkiLayout): boolean {
  return existsSync(pki.caCert) && existsSync(pki.nodeCert) && existsSync(pki.nodeKey);
}

export function writePki(pki: PkiLayout, material: PkiMaterial): void {
  mkdirSync(pki.dir, { recursive: true, mode: 0o700 });
  chmodSync(pki.dir, 0o700);
  writeAtomic(pki.caKey, material.caKeyPem, 0o600);
  writeAtomic(pki.nodeKey, material.keyPem, 0o600);
  writeAtomic(pki.caCert, material.caPem, 0o644);
  writeAtomic(pki.nodeCert, material.certPem, 0o644);
}

export function readNodeTls(pki: PkiLayout): NodeTls {
  return { caPem: read(pki.caCert), certPem: read(pki.nodeCert), keyPem: read(pki.nodeKey) };
}

export function readPki(pki: PkiLayout): PkiMaterial {
  return { ...readNodeTls(pki), caKeyPem: read(pki.caKey) };
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code}); the node's PKI is incomplete: restore ` +
        "the pki/ directory from a backup of the data dir, or leave and rejoin the cluster",
      { cause: err },
    );
  }
}

/** Written through a temporary file created with the final mode: never a moment with a readable key. */
function writeAtomic(path: string, text: string, mode: number): void {
  const partial = `${path}.partial`;
  writeFileSync(partial, text, { mode, flag: "w" });
  chmodSync(partial, mode);
  renameSync(partial, path);
}
