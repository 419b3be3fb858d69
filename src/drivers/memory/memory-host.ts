/**
 * The machine under an in-memory driver: the VMs' state (what a state dir holds) and their pretend
 * processes, which outlive the driver that started them, as qemu processes outlive an agent. Several
 * MemoryDriver instances over one host are successive agents on one node (re-adoption), and the fault
 * switches live here because they are the machine's: a start that fails, a guest that ignores
 * Ctrl-Alt-Del, a process that dies. No wall clock and no randomness but the injected ones, so the
 * simulator stays deterministic.
 */

import type { VmRuntime } from "../../core/runtime.js";
import type { BridgeAttachment } from "../../core/vm-network.js";
import type { Clock } from "../../ports/clock.js";
import type { Random } from "../../ports/random.js";

/** Faults drawn from the injected Random (the simulator's); all off without one. */
export interface DriverFaults {
  /** Boot time on the clock, drawn uniformly from [min, max] ms. */
  bootMs: [number, number];
  /** Probability that a start fails. */
  failStart: number;
  /** Probability that a started guest ignores Ctrl-Alt-Del, so its stops escalate to quit. */
  ignoreGraceful: number;
}

export const NO_FAULTS: DriverFaults = { bootMs: [0, 0], failStart: 0, ignoreGraceful: 0 };

export interface MemoryVm {
  /** The process as the host sees it; exit statuses are always known here. */
  runtime: VmRuntime;
  /** The console log. */
  log: string;
  ignoresGraceful: boolean;
  /** The driver instance that started the process: only it knows the exit status (see inspect). */
  startedBy: object | undefined;
  /** What the running process was started with (the simulator's capacity check counts these). */
  resources?: { vcpus: number; memoryMiB: number };
  /** The bridge attachment it was started with (bridge mode), for tests to read. */
  bridge?: BridgeAttachment;
}

export interface MemoryCall {
  op: "prepare" | "start" | "stop" | "remove" | "quarantine" | "adopt";
  name: string;
  /** A stop's method. */
  detail?: string;
}

export interface MemoryHostOptions {
  clock: Clock;
  random?: Random;
  faults?: DriverFaults;
  /** First pretend pid, so that the hosts of one simulation hand out distinct pids. */
  pidBase?: number;
}

export class MemoryHost {
  readonly clock: Clock;
  readonly random: Random | undefined;
  faults: DriverFaults;
  /** Switch: how many upcoming prepares fail. */
  failPrepares = 0;
  /** Switch: how many upcoming starts fail. */
  failStarts = 0;
  /** Switch: how many upcoming stops of a running VM fail with the VM still running (stuck in the kernel). */
  failStops = 0;
  /**
   * Switch: host files that are missing on this machine. A spec naming one (kernel, initrd, disk,
   * runner) fails prepare and start with FAILED_PRECONDITION, as the real drivers' file checks do.
   */
  readonly missingFiles = new Set<string>();
  /** Every driver call on this host, in order, for tests to read. */
  readonly calls: MemoryCall[] = [];
  /** What remove moved aside instead of deleting, with the reason. */
  readonly quarantined: { name: string; reason: string; log: string }[] = [];
  private readonly vms = new Map<string, MemoryVm>();
  private nextPid: number;

  constructor(options: MemoryHostOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.faults = options.faults ?? { ...NO_FAULTS };
    this.nextPid = options.pidBase ?? 1000;
  }

  vm(name: string): MemoryVm | undefined {
    return this.vms.get(name);
  }

  /** The VM's state, made when missing (prepare and start make the state dir). */
  ensure(name: string): MemoryVm {
    let vm = this.vms.get(name);
    if (!vm) {
      vm = { runtime: { state: "absent" }, log: "", ignoresGraceful: false, startedBy: undefined };
      this.vms.set(name, vm);
    }
    return vm;
  }

  has(name: string): boolean {
    return this.vms.has(name);
  }

  names(): string[] {
    return [...this.vms.keys()].sort();
  }

  delete(name: string): void {
    this.vms.delete(name);
  }

  pid(): number {
    return this.nextPid++;
  }

  /** True with probability p; draws from the Random whenever there is one, so streams stay aligned. */
  chance(p: number): boolean {
    return this.random ? this.random.next() < p : false;
  }

  /** The process as the host sees it; a driver reports it as its own view (MemoryDriver.inspect). */
  inspect(name: string): VmRuntime {
    return this.vms.get(name)?.runtime ?? { state: "absent" };
  }

  /** Switch: a guest that ignores (or no longer ignores) Ctrl-Alt-Del. */
  setIgnoresGraceful(name: string, ignores: boolean): void {
    this.ensure(name).ignoresGraceful = ignores;
  }

  /** Appends console output, as the guest would. */
  write(name: string, text: string): void {
    this.ensure(name).log += text;
  }

  /** Fault: the VM's process dies as if SIGKILLed. */
  crash(name: string): void {
    const vm = this.vms.get(name);
    if (vm?.runtime.state === "running") {
      vm.runtime = { state: "exited", exit: { code: null, signal: "SIGKILL", known: true } };
    }
  }

  /** Fault: the host reboots; every VM dies with it. */
  crashAll(): void {
    for (const name of this.vms.keys()) this.crash(name);
  }

  /** Fault: a process of this VM runs here that no driver started (a leak, a stray copy). */
  spawn(name: string): void {
    const vm = this.ensure(name);
    vm.runtime = { state: "running", pid: this.pid(), startedAt: this.clock.now() };
    vm.startedBy = undefined;
  }

  /** Names of the VMs whose process runs now. */
  running(): string[] {
    return this.names().filter((name) => this.vms.get(name)?.runtime.state === "running");
  }
}
