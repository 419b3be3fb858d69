/**
 * A throwaway single-node Ceph for tests and benchmarks: scripts/ceph-dev.sh started in a fresh
 * directory, stopped (exactly its own daemons) and removed afterwards. Tests skip with the reason
 * when the host cannot run one (no ceph-mon: run scripts/install-system-deps.sh; not root).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** src/testing/ and dist/testing/ are both two levels below the repository. */
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "ceph-dev.sh");

export interface TestCeph {
  dir: string;
  confPath: string;
  keyringPath: string;
  user: string;
  pool: string;
  stop(): Promise<void>;
}

/** Why this host cannot start a test Ceph, or undefined when it can. */
export function cephSkipReason(): string | undefined {
  for (const tool of ["ceph-mon", "ceph-osd", "rbd", "ceph"]) {
    if (!["/usr/bin", "/usr/sbin", "/bin"].some((d) => existsSync(join(d, tool)))) {
      return `${tool} is not installed (scripts/install-system-deps.sh installs ceph-mon, ceph-osd and ceph-common)`;
    }
  }
  if (process.getuid?.() !== 0)
    return "a test Ceph runs as root (its daemons, and the qemu jail that opens its images)";
  return undefined;
}

export async function startTestCeph(): Promise<TestCeph> {
  const dir = await mkdtemp(join(tmpdir(), "blixard-ceph-"));
  try {
    await execFileAsync(SCRIPT, ["start", dir], { timeout: 120_000 });
  } catch (err) {
    await execFileAsync(SCRIPT, ["stop", dir], { timeout: 60_000 }).catch(() => undefined);
    throw err;
  }
  return {
    dir,
    confPath: join(dir, "ceph.conf"),
    keyringPath: join(dir, "keyring"),
    user: "admin",
    pool: "blixard",
    stop: async () => {
      await execFileAsync(SCRIPT, ["stop", dir], { timeout: 60_000 });
    },
  };
}
