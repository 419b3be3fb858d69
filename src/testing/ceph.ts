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

/**
 * Why this host cannot start a test Ceph, or undefined when it can. CI sets BLIXARD_REQUIRE_CEPH=1:
 * there a missing piece fails the run instead of skipping the Ceph tests unseen.
 */
export function cephSkipReason(): string | undefined {
  const reason = skipReason();
  if (reason !== undefined && process.env["BLIXARD_REQUIRE_CEPH"] === "1") {
    throw new Error(`BLIXARD_REQUIRE_CEPH=1 but ${reason}`);
  }
  return reason;
}

function skipReason(): string | undefined {
  for (const tool of ["ceph-mon", "ceph-osd", "rbd", "ceph"]) {
    if (!["/usr/bin", "/usr/sbin", "/bin"].some((d) => existsSync(join(d, tool)))) {
      return `${tool} is not installed (scripts/install-system-deps.sh installs ceph-mon, ceph-osd and ceph-common)`;
    }
  }
  if (process.getuid?.() !== 0)
    return "a test Ceph runs as root (its daemons, and the qemu jail that opens its images)";
  return undefined;
}

/**
 * `address`: where the daemons listen (127.0.0.1 by default). A jailed qemu cannot connect to the
 * host's loopback (the VM uids' nftables guard), so its tests use a local address (localDummyAddress).
 */
export async function startTestCeph(options: { address?: string } = {}): Promise<TestCeph> {
  const dir = await mkdtemp(join(tmpdir(), "blixard-ceph-"));
  try {
    const env =
      options.address === undefined ? process.env : { ...process.env, CEPH_DEV_ADDR: options.address };
    await execFileAsync(SCRIPT, ["start", dir], { timeout: 120_000, env });
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

/**
 * A host-local address that is not loopback, on a veth pair of this test's own (named by its pid;
 * this kernel may lack the dummy device type), for a Ceph that jailed qemus can reach; `remove`
 * deletes exactly that pair.
 */
export async function localDummyAddress(): Promise<{ address: string; remove(): Promise<void> }> {
  const device = `blxceph${process.pid.toString(36)}`.slice(0, 15);
  const peer = `blxcpeer${process.pid.toString(36)}`.slice(0, 15);
  // 198.18.0.0/15 is set aside for benchmarks: no real network uses it.
  const address = `198.18.${(process.pid >> 8) & 0xff}.${(process.pid & 0xfd) + 1}`;
  await execFileAsync("ip", ["link", "add", device, "type", "veth", "peer", "name", peer]);
  const remove = async () => {
    await execFileAsync("ip", ["link", "del", device]).catch(() => undefined);
  };
  try {
    await execFileAsync("ip", ["addr", "add", `${address}/32`, "dev", device]);
    await execFileAsync("ip", ["link", "set", device, "up"]);
    await execFileAsync("ip", ["link", "set", peer, "up"]);
  } catch (err) {
    await remove();
    throw err;
  }
  return { address, remove };
}
