/**
 * The node's data directory: its store, identity, API token, VM state and default image.
 * Everything secret is created with mode 0600 and directories with 0700.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_TOKEN_NAME, formatToken } from "../core/tokens.js";

export interface DataDirLayout {
  root: string;
  storeFile: string;
  nodeFile: string;
  tokenFile: string;
  /** The node lock (see node-lock.ts) and the pid of its holder, for the refusal message. */
  lockFile: string;
  lockPidFile: string;
  vmsDir: string;
  /** Guest images; the only host paths a VM spec of a non-admin may name. */
  imagesDir: string;
  defaultImageDir: string;
  /** Cluster membership of a node with a managed etcd member (absent on single nodes). */
  clusterFile: string;
  /** The managed etcd member: its pidfile and log here, its data in etcdDataDir. */
  etcdDir: string;
  etcdDataDir: string;
}

export { defaultDataDir } from "./default-data-dir.js";

export function layout(root: string): DataDirLayout {
  return {
    root,
    storeFile: join(root, "store.db"),
    nodeFile: join(root, "node.json"),
    tokenFile: join(root, "token"),
    lockFile: join(root, "node.lock"),
    lockPidFile: join(root, "node.pid"),
    vmsDir: join(root, "vms"),
    imagesDir: join(root, "images"),
    defaultImageDir: join(root, "images", "default"),
    clusterFile: join(root, "cluster.json"),
    etcdDir: join(root, "etcd"),
    etcdDataDir: join(root, "etcd", "data"),
  };
}

export function ensureDataDir(dirs: DataDirLayout): void {
  mkdirSync(dirs.root, { recursive: true, mode: 0o700 });
  chmodSync(dirs.root, 0o700);
  mkdirSync(dirs.vmsDir, { recursive: true, mode: 0o700 });
}

/** The node's persistent identity: created once, then read on every start. */
export function loadOrCreateNodeId(dirs: DataDirLayout, newId: () => string): string {
  try {
    const parsed = JSON.parse(readFileSync(dirs.nodeFile, "utf8")) as { id?: unknown };
    if (typeof parsed.id === "string" && parsed.id !== "") return parsed.id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const id = newId();
  writeFileSync(dirs.nodeFile, `${JSON.stringify({ id }, null, 2)}\n`, { mode: 0o600 });
  return id;
}

/**
 * The admin API token (`blx_admin_<secret>`), generated at first start with mode 0600; `given`
 * (--token) replaces it. The node stores its hash as the `admin` token unless the cluster has one.
 */
export function loadOrCreateToken(dirs: DataDirLayout, given?: string): string {
  if (given !== undefined) {
    writeSecretFile(dirs.tokenFile, given);
    return given;
  }
  try {
    const token = readFileSync(dirs.tokenFile, "utf8").trim();
    if (token !== "") return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const token = formatToken(ADMIN_TOKEN_NAME, randomBytes(32).toString("hex"));
  writeSecretFile(dirs.tokenFile, token);
  return token;
}

/**
 * Replaces a secret file whole (written aside with mode 0600, then renamed over it), so that a reader
 * never sees half a secret and the file is never briefly readable by others.
 */
export function writeSecretFile(path: string, secret: string): void {
  const partial = `${path}.partial`;
  writeFileSync(partial, `${secret}\n`, { mode: 0o600, flag: "w" });
  chmodSync(partial, 0o600);
  renameSync(partial, path);
}
