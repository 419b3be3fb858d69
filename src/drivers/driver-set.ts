/**
 * The drivers of one node behind the one VmDriver the agent talks to. A VM goes to the driver its
 * spec names; calls that carry only a name (stop, inspect, logs, remove, …) go to the driver that
 * prepared it, which a marker file in its state dir records (`<vmsDir>/<name>/driver`), so that a
 * restarted agent routes a running VM to the same driver. A state dir without a marker predates the
 * marker and belongs to qemu, the only driver there was.
 */
import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BlixardError } from "../core/errors.js";
import type { VmSpec } from "../core/vm-spec.js";
import type {
  DriverCapabilities,
  LogStream,
  LogTail,
  ProgressFn,
  RemoveOptions,
  StartedVm,
  StartOptions,
  StopMethod,
  StopOptions,
  VmDriver,
  VmRuntime,
} from "../ports/vm-driver.js";
import { vmStateDir } from "./shared/vm-paths.js";

export const MARKER_FILE = "driver";
const LEGACY_DRIVER = "qemu";

export class DriverSet implements VmDriver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  private readonly byName = new Map<string, VmDriver>();
  /** Which driver owns each VM; filled from the markers on first use. */
  private readonly owners = new Map<string, VmDriver>();

  constructor(
    drivers: VmDriver[],
    private readonly vmsDir: string,
  ) {
    if (drivers.length === 0) throw new Error("a node needs at least one driver");
    for (const d of drivers) this.byName.set(d.name, d);
    this.name = drivers.map((d) => d.name).join("+");
    // A capability holds for the set only when every driver has it.
    this.capabilities = {
      migrate: drivers.every((d) => d.capabilities.migrate),
      snapshot: drivers.every((d) => d.capabilities.snapshot),
      balloon: drivers.every((d) => d.capabilities.balloon),
    };
  }

  /** The drivers this node offers, for its registration (placement filters on them). */
  get names(): string[] {
    return [...this.byName.keys()];
  }

  async prepare(name: string, spec: VmSpec, progress?: ProgressFn): Promise<void> {
    const driver = this.forSpec(spec);
    await this.claim(name, driver);
    return driver.prepare(name, spec, progress);
  }

  async start(name: string, spec: VmSpec, options?: StartOptions): Promise<StartedVm> {
    const driver = this.forSpec(spec);
    await this.claim(name, driver);
    return driver.start(name, spec, options);
  }

  // Async, so that a bad name rejects the promise like every driver's calls rather than throwing
  // synchronously past a caller's .catch() (the driver contract found it).
  async stop(name: string, options: StopOptions): Promise<StopMethod> {
    return this.owner(name).stop(name, options);
  }

  async inspect(name: string): Promise<VmRuntime> {
    return this.owner(name).inspect(name);
  }

  async adopt(name: string): Promise<VmRuntime> {
    return this.owner(name).adopt(name);
  }

  async logs(name: string, tail?: number): Promise<LogTail> {
    return this.owner(name).logs(name, tail);
  }

  streamLogs(name: string, tail?: number, chunkBytes?: number): LogStream {
    return this.owner(name).streamLogs(name, tail, chunkBytes);
  }

  followLogs(name: string, offset: number, signal: AbortSignal): AsyncIterable<string> {
    return this.owner(name).followLogs(name, offset, signal);
  }

  async logSize(name: string): Promise<number> {
    return this.owner(name).logSize(name);
  }

  async list(): Promise<string[]> {
    const all = await Promise.all([...this.byName.values()].map((d) => d.list()));
    return [...new Set(all.flat())].sort();
  }

  async remove(name: string, options?: RemoveOptions): Promise<void> {
    await this.owner(name).remove(name, options);
    this.owners.delete(name);
  }

  private forSpec(spec: VmSpec): VmDriver {
    const driver = this.byName.get(spec.driver);
    if (driver) return driver;
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `this node offers the ${this.names.join(" and ")} driver${this.names.length > 1 ? "s" : ""}, not ${spec.driver}` +
        (spec.driver === "microvm-nix"
          ? "; install Nix on the node or start it with --microvm-nix on (see docs/nixos.md)"
          : ""),
    );
  }

  /** Records that `driver` owns the VM; a VM that another driver still runs cannot change hands. */
  private async claim(name: string, driver: VmDriver): Promise<void> {
    const previous = this.owner(name);
    if (previous === driver && this.owners.has(name)) return;
    if (previous !== driver && (await previous.inspect(name)).state === "running") {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `VM ${name} is running under the ${previous.name} driver; stop it before running it with ${driver.name}`,
      );
    }
    const { stateDir } = vmStateDir(this.vmsDir, name);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const marker = join(stateDir, MARKER_FILE);
    await writeFile(`${marker}.partial`, `${driver.name}\n`, { mode: 0o600 });
    await rename(`${marker}.partial`, marker);
    this.owners.set(name, driver);
  }

  private owner(name: string): VmDriver {
    const known = this.owners.get(name);
    if (known) return known;
    const { stateDir } = vmStateDir(this.vmsDir, name);
    let recorded: string | undefined;
    try {
      // Synchronous: a few bytes, read once per VM; inspect runs on every reconcile and must stay cheap.
      recorded = readFileSync(join(stateDir, MARKER_FILE), "utf8").trim();
    } catch {
      recorded = undefined;
    }
    const driver = this.byName.get(recorded ?? LEGACY_DRIVER);
    if (driver === undefined) {
      // A VM of a driver this node no longer offers: name-only calls still reach one, which reports
      // what it can (absent or exited) rather than throwing on every reconcile.
      return this.byName.get(LEGACY_DRIVER) ?? [...this.byName.values()][0]!;
    }
    // Cached only when a marker said so: a VM without one may be claimed by another driver later.
    if (recorded !== undefined) this.owners.set(name, driver);
    return driver;
  }
}
