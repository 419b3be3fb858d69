/**
 * The `--faults` flag of `npm run sim`: `key=value` settings separated by commas, named after the
 * fields of SimConfig (`store.failBefore=0.05,driver.bootMs=100-500,crashHost=0.02`), applied in
 * order over the defaults; `none` turns every fault off. Parsed once, at the edge: a bad key or value
 * is an error that names it and what is allowed.
 */
import { NO_FAULTS } from "./faulty-store.js";
import type { SimConfig } from "./world.js";

export type FaultSettings = Pick<
  SimConfig,
  "storeFaults" | "driverFaults" | "crashVm" | "restartAgent" | "crashHost" | "partition"
>;

export class FaultFlagError extends Error {}

/** The longest delay a range may give, in ms: longer ones only slow the run down. */
const MAX_MS = 60_000;

type Setting =
  | { kind: "probability"; get(s: FaultSettings): number; set(s: FaultSettings, v: number): void }
  | {
      kind: "range";
      get(s: FaultSettings): [number, number];
      set(s: FaultSettings, v: [number, number]): void;
    };

const SETTINGS: Readonly<Record<string, Setting>> = {
  "store.latencyMs": {
    kind: "range",
    get: (s) => s.storeFaults.latencyMs,
    set: (s, v) => {
      s.storeFaults.latencyMs = v;
    },
  },
  "store.failBefore": store("failBefore"),
  "store.failAfter": store("failAfter"),
  "store.watchBreak": store("watchBreak"),
  "driver.bootMs": {
    kind: "range",
    get: (s) => s.driverFaults.bootMs,
    set: (s, v) => {
      s.driverFaults.bootMs = v;
    },
  },
  "driver.failStart": driver("failStart"),
  "driver.ignoreGraceful": driver("ignoreGraceful"),
  crashVm: perStep("crashVm"),
  restartAgent: perStep("restartAgent"),
  crashHost: perStep("crashHost"),
  partition: perStep("partition"),
};

export const FAULT_KEYS: readonly string[] = Object.keys(SETTINGS);

/** Applies `spec` (one `--faults` value) over `base`, which it does not change. */
export function parseFaults(spec: string, base: FaultSettings): FaultSettings {
  const settings = copy(base);
  for (const token of spec.split(",").map((t) => t.trim())) {
    if (token === "") continue;
    if (token === "none") {
      turnOff(settings);
      continue;
    }
    const eq = token.indexOf("=");
    if (eq < 0) throw new FaultFlagError(`--faults: expected key=value or "none", got "${token}"`);
    const key = token.slice(0, eq).trim();
    const value = token.slice(eq + 1).trim();
    const setting = SETTINGS[key];
    if (!setting) {
      throw new FaultFlagError(
        `--faults: unknown setting "${key}"; the settings are ${FAULT_KEYS.join(", ")} (or "none")`,
      );
    }
    if (setting.kind === "probability") setting.set(settings, parseProbability(key, value));
    else setting.set(settings, parseRange(key, value));
  }
  return settings;
}

/** Every setting as `key=value`, in the syntax `--faults` takes. */
export function describeFaults(settings: FaultSettings): string[] {
  return FAULT_KEYS.map((key) => {
    const setting = SETTINGS[key]!;
    if (setting.kind === "probability") return `${key}=${setting.get(settings)}`;
    const [min, max] = setting.get(settings);
    return `${key}=${min}-${max}`;
  });
}

/** `none`: no store or driver faults, no latency and no process or network faults; boots still take time. */
function turnOff(s: FaultSettings): void {
  s.storeFaults = { ...NO_FAULTS, latencyMs: [...NO_FAULTS.latencyMs] };
  s.driverFaults = { ...s.driverFaults, failStart: 0, ignoreGraceful: 0 };
  s.crashVm = 0;
  s.restartAgent = 0;
  s.crashHost = 0;
  s.partition = 0;
}

const NUMBER = /^(\d+(\.\d*)?|\.\d+)$/;

function parseProbability(key: string, value: string): number {
  const n = Number(value);
  if (!NUMBER.test(value) || n > 1)
    throw new FaultFlagError(`--faults: ${key} must be a probability from 0 to 1, got "${value}"`);
  return n;
}

function parseRange(key: string, value: string): [number, number] {
  const parts = value.split("-");
  const [min, max] = parts.map(Number) as [number, number?];
  const ok = parts.length <= 2 && parts.every((p) => NUMBER.test(p));
  const hi = max ?? min;
  if (!ok || min > hi || hi > MAX_MS) {
    throw new FaultFlagError(
      `--faults: ${key} must be milliseconds as min-max (0 <= min <= max <= ${MAX_MS}) or one number, got "${value}"`,
    );
  }
  return [min, hi];
}

function store(field: "failBefore" | "failAfter" | "watchBreak"): Setting {
  return {
    kind: "probability",
    get: (s) => s.storeFaults[field],
    set: (s, v) => {
      s.storeFaults[field] = v;
    },
  };
}

function driver(field: "failStart" | "ignoreGraceful"): Setting {
  return {
    kind: "probability",
    get: (s) => s.driverFaults[field],
    set: (s, v) => {
      s.driverFaults[field] = v;
    },
  };
}

function perStep(field: "crashVm" | "restartAgent" | "crashHost" | "partition"): Setting {
  return {
    kind: "probability",
    get: (s) => s[field],
    set: (s, v) => {
      s[field] = v;
    },
  };
}

function copy(s: FaultSettings): FaultSettings {
  return {
    ...s,
    storeFaults: { ...s.storeFaults, latencyMs: [...s.storeFaults.latencyMs] },
    driverFaults: { ...s.driverFaults, bootMs: [...s.driverFaults.bootMs] },
  };
}
