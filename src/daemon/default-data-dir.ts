/**
 * Where a node keeps its data when no --data-dir is given. Apart from data-dir.ts so that the CLI can
 * find the token and CA without loading what the node needs to create them (zod, crypto).
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** BLIXARD_DATA_DIR, else /var/lib/blixard for root, else $XDG_DATA_HOME/blixard. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["BLIXARD_DATA_DIR"]) return env["BLIXARD_DATA_DIR"];
  if (process.getuid?.() === 0) return "/var/lib/blixard";
  return join(env["XDG_DATA_HOME"] ?? join(homedir(), ".local", "share"), "blixard");
}
