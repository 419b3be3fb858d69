/**
 * Who holds an RBD image, read from `rbd status --format json` (its watchers: every client that has
 * it open) and `rbd lock ls --format json` (the exclusive lock's owner). Parsed with zod and every
 * field checked before it becomes an argument of a blocklist or lock-break call.
 */
import { z } from "zod";
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { VolumeHolder } from "../../ports/volume-backend.js";
import { checkAddress, checkClient, checkLockId } from "./rbd-argv.js";

const statusSchema = z.object({
  watchers: z.array(z.object({ address: z.string(), client: z.union([z.number(), z.string()]) })).default([]),
});

const locksSchema = z.array(z.object({ id: z.string(), locker: z.string(), address: z.string() }));

export interface RbdLock {
  id: string;
  locker: string;
  address: string;
}

function parse<T>(what: string, schema: z.ZodType<T>, text: string): T {
  try {
    return schema.parse(JSON.parse(text === "" ? "[]" : text));
  } catch (err) {
    throw new BlixardError("DRIVER_FAILED", `could not read ${what}: ${errorMessage(err)}`, { cause: err });
  }
}

export function parseWatchers(json: string): VolumeHolder[] {
  const status = parse("rbd status", statusSchema, json);
  return status.watchers.map((w) => {
    const client = checkClient(typeof w.client === "number" ? `client.${w.client}` : w.client);
    return { client, address: checkAddress(w.address) };
  });
}

export function parseLocks(json: string): RbdLock[] {
  // `rbd lock ls --format json` prints nothing (not `[]`) for an image without locks on some releases.
  return parse("rbd lock ls", locksSchema, json).map((l) => ({
    id: checkLockId(l.id),
    locker: checkClient(l.locker),
    address: checkAddress(l.address),
  }));
}

/** Every distinct client instance that watches or locks the image, in a stable order. */
export function holdersOf(watchers: VolumeHolder[], locks: RbdLock[]): VolumeHolder[] {
  const byAddress = new Map<string, VolumeHolder>();
  for (const w of watchers) if (w.address !== undefined) byAddress.set(w.address, w);
  for (const l of locks)
    if (!byAddress.has(l.address)) byAddress.set(l.address, { client: l.locker, address: l.address });
  return [...byAddress.values()].sort((a, b) => (a.address ?? "").localeCompare(b.address ?? ""));
}
