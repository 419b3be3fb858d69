/**
 * The Ceph client files a VM's qemu reads to open its RBD volumes. qemu runs jailed as the VM's uid
 * in a view that holds no /etc and none of the node's files, and its rbd driver takes no keyring
 * option: librbd reads the keyring named by its conf. So before a start the node writes, in the VM's
 * state dir (bound into the view at its own path, and given to the VM's uid 0600 by the jail):
 * - `ceph.conf`: only what a client needs (the monitors' addresses, the auth mode, and `keyring`
 *   naming the copy below); none of the node's log, socket or admin paths, which the view lacks;
 * - `ceph.keyring`: a copy of the node's keyring (`--ceph-keyring`).
 * The key is never on a command line. A qemu the guest took over can read the key, as it could in its
 * own memory anyway; no other VM's uid can. Both files are made fresh with O_EXCL (a link the VM's
 * uid planted in its state dir redirects nothing).
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { BlockSource } from "../../ports/volume-backend.js";
import { createFresh } from "./no-follow.js";

const execFileAsync = promisify(execFile);

export type RbdSource = Extract<BlockSource, { kind: "rbd" }>;

/** The state-dir names the jail must hand to the VM's uid (`VmNeeds.writable`). */
export const CEPH_CLIENT_FILES = ["ceph.conf", "ceph.keyring"] as const;

/** `[v2:10.0.0.1:3300,v1:10.0.0.1:6789] 10.0.0.2`: addresses only, so the value cannot add conf lines. */
const MON_HOST = /^[A-Za-z0-9.:[\],/ -]{1,1024}$/;
const AUTH = /^(cephx|none)( *, *(cephx|none))*$/;

/** The client conf, pure. */
export function clientConf(monHost: string, authClientRequired: string, keyringPath: string): string {
  if (!MON_HOST.test(monHost)) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `the ceph conf's mon_host ${JSON.stringify(monHost)} is not a list of monitor addresses; write IP addresses there (the VM's jail resolves no names)`,
    );
  }
  if (!AUTH.test(authClientRequired)) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `the ceph conf's auth_client_required ${JSON.stringify(authClientRequired)} is not cephx or none`,
    );
  }
  return [
    "# Written by the Blixard node for this VM's qemu (src/drivers/shared/ceph-client-files.ts).",
    "[global]",
    `mon host = ${monHost}`,
    `auth client required = ${authClientRequired}`,
    `keyring = ${keyringPath}`,
    "",
  ].join("\n");
}

/** A conf value; `fallback` when the conf does not set it (ceph-conf then exits 1 with no output). */
async function lookup(
  confPath: string,
  user: string,
  key: string,
  cephConf: string,
  fallback?: string,
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(
      cephConf,
      ["--conf", confPath, "--name", `client.${user}`, "--lookup", key],
      { timeout: 10_000 },
    );
    return stdout.trim();
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string };
    if (fallback !== undefined && e.code === 1 && !e.stderr?.trim()) return fallback;
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `could not read ${key} from ${confPath} (ceph-conf): ${errorMessage(err)}; check --ceph-conf`,
      { cause: err },
    );
  }
}

/**
 * Writes the VM's client conf and keyring into its state dir and returns the source qemu opens:
 * the same image, with the conf and keyring of the state dir.
 */
export async function writeCephClientFiles(
  stateDir: string,
  source: RbdSource,
  cephConf = "ceph-conf",
): Promise<RbdSource> {
  const monHost = await lookup(source.confPath, source.user, "mon_host", cephConf);
  const auth = await lookup(source.confPath, source.user, "auth_client_required", cephConf, "cephx");
  const [confName, keyringName] = CEPH_CLIENT_FILES;
  const confPath = join(stateDir, confName);
  const keyringPath = join(stateDir, keyringName);
  let keyring = "";
  if (source.keyringPath !== undefined) {
    try {
      keyring = await readFile(source.keyringPath, "utf8");
    } catch (err) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `could not read the ceph keyring ${source.keyringPath}: ${errorMessage(err)}; check --ceph-keyring`,
        { cause: err },
      );
    }
  }
  await writeFresh(keyringPath, keyring);
  await writeFresh(confPath, clientConf(monHost, auth, keyringPath));
  return { ...source, confPath, keyringPath };
}

async function writeFresh(file: string, text: string): Promise<void> {
  const handle = await createFresh(file);
  try {
    await handle.write(text);
  } finally {
    await handle.close();
  }
}

/**
 * A VM's volumes with each RBD source opened through the client files in its state dir (one pair
 * for all: the node has one Ceph identity); file sources unchanged.
 */
export async function withCephClientFiles<T extends { source: BlockSource }>(
  stateDir: string,
  volumes: readonly T[],
): Promise<T[]> {
  const out: T[] = [];
  for (const v of volumes) {
    out.push(v.source.kind === "rbd" ? { ...v, source: await writeCephClientFiles(stateDir, v.source) } : v);
  }
  return out;
}
