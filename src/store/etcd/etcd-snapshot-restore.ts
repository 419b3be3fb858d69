/**
 * Restores an etcd snapshot file (EtcdAdmin.snapshot(), `etcdctl snapshot save`) into the data dir of
 * a new one-member cluster, with etcd's own tool: etcdutl where installed (etcd 3.5+), else etcdctl.
 * Starting etcd on that dir with initial cluster state "new" brings the keys back; other members
 * then join it as usual.
 */
import { spawn } from "node:child_process";
import { access, readdir, rm, rmdir } from "node:fs/promises";
import { BlixardError, errorMessage } from "../../core/errors.js";

export interface RestoreSnapshotOptions {
  /** The snapshot file. */
  file: string;
  /** Where the member's data goes; it must not exist or be empty. */
  dataDir: string;
  /** The name the restored member will run with. */
  name: string;
  /** The peer URL the restored member will run with. */
  peerUrl: string;
  initialClusterToken: string;
  /** The etcdutl or etcdctl executable; by default etcdutl, else etcdctl, from the PATH. */
  binary?: string;
}

const STDERR_TAIL_BYTES = 4_096;

type Outcome = { missing: true } | { missing: false; code: number | null; stderr: string };

function run(binary: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    // etcdctl 3.4 speaks the v2 API unless told otherwise; etcdutl ignores the variable.
    const child = spawn(binary, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
    child.once("error", (err) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") resolve({ missing: true });
      else
        reject(new BlixardError("UNAVAILABLE", `cannot run ${binary}: ${errorMessage(err)}`, { cause: err }));
    });
    child.once("close", (code) => resolve({ missing: false, code, stderr }));
  });
}

/** Leaves `dataDir` absent: etcdctl 3.4 refuses any existing dir, even an empty one. */
async function clearDataDir(dataDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new BlixardError("FAILED_PRECONDITION", `cannot read ${dataDir}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (entries.length > 0) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `cannot restore the etcd snapshot into ${dataDir}: it already holds data; restore into a new ` +
        "directory, or move that one away first",
    );
  }
  await rmdir(dataDir);
}

export async function restoreSnapshot(options: RestoreSnapshotOptions): Promise<void> {
  const { file, dataDir, name, peerUrl } = options;
  try {
    await access(file);
  } catch (err) {
    throw new BlixardError("NOT_FOUND", `cannot restore etcd snapshot ${file}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  await clearDataDir(dataDir);
  const args = [
    "snapshot",
    "restore",
    file,
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--initial-cluster=${name}=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster-token=${options.initialClusterToken}`,
  ];
  const candidates = options.binary === undefined ? ["etcdutl", "etcdctl"] : [options.binary];
  for (const binary of candidates) {
    const outcome = await run(binary, args);
    if (outcome.missing) continue;
    if (outcome.code === 0) return;
    // Leave no half-restored dir behind: it did not exist (or was empty) before.
    await rm(dataDir, { recursive: true, force: true });
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `${binary} snapshot restore of ${file} failed (exit code ${outcome.code}); check that the file is a ` +
        `complete etcd snapshot. Its output ends with:\n${outcome.stderr.trimEnd()}`,
    );
  }
  throw new BlixardError(
    "FAILED_PRECONDITION",
    `cannot restore etcd snapshot ${file}: ${candidates.join(" and ")} ${candidates.length > 1 ? "are" : "is"} ` +
      "not installed; install the Debian package etcd-client (apt-get install etcd-client) or give the path of its binary",
  );
}
