/**
 * Progress from the lines `nix build` prints: how many derivations it will build and paths it will
 * fetch, then one line as each starts. Pure, fed line by line; nix's JSON log format would say more,
 * but its plain lines look the same across the Nix versions a node may have.
 */
import type { Progress } from "../../ports/vm-driver.js";

const STORE_NAME = /^\/nix\/store\/[0-9a-z]{32}-(.+?)(\.drv)?$/;

/** `/nix/store/…-microvm-qemu-web.drv` → `microvm-qemu-web`. */
export function storeName(path: string): string {
  return STORE_NAME.exec(path)?.[1] ?? path;
}

export class BuildProgress {
  private expected = 0;
  private begun = 0;

  /** The progress this line reports, if any. */
  feed(line: string): Progress | undefined {
    const planned =
      /^these (\d+) (?:derivations|paths) will be (?:built|fetched)/.exec(line) ??
      /^this (derivation|path) will be (?:built|fetched)/.exec(line);
    if (planned) {
      this.expected += planned[1] === "derivation" || planned[1] === "path" ? 1 : Number(planned[1]);
      return { step: `nix: ${this.expected} to build or fetch`, fraction: this.fraction() };
    }
    const building = /^building '([^']+)'/.exec(line);
    if (building) return this.begin(`building ${storeName(building[1]!)}`);
    const copying = /^copying path '([^']+)' from/.exec(line);
    if (copying) return this.begin(`fetching ${storeName(copying[1]!)}`);
    return undefined;
  }

  private begin(step: string): Progress {
    this.begun += 1;
    return { step, fraction: this.fraction() };
  }

  /** Within the build's share of prepare (0.2..0.9); a step that has begun is not done yet. */
  private fraction(): number {
    if (this.expected === 0) return 0.2;
    const done = Math.min(Math.max(this.begun - 1, 0), this.expected) / this.expected;
    return 0.2 + 0.7 * done;
  }
}
