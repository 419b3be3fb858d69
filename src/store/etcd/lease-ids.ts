/**
 * Lease ids chosen by the store rather than by etcd. etcd's own ids use all 63 bits of an int64,
 * which a JavaScript number cannot hold exactly, and the port keeps lease ids as numbers (agents and
 * controllers pass them around and compare them). etcd's LeaseGrant accepts a caller-chosen id, so
 * the store draws 53 random bits: ids stay exact, and with ~9·10^15 choices a collision with a live
 * lease is vanishingly rare and, when it happens, etcd refuses the grant and the store draws again.
 */
import { randomBytes } from "node:crypto";

const SAFE_BITS = (1n << 53n) - 1n;

/** A random lease id in [1, 2^53 - 1]. */
export function randomLeaseId(): number {
  for (;;) {
    const id = Number(randomBytes(8).readBigUInt64BE() & SAFE_BITS);
    if (id !== 0) return id;
  }
}
