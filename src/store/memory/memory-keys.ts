/**
 * Keys in the order etcd and SQLite keep them: by their UTF-8 bytes, which is code point order. JS
 * compares strings by UTF-16 code units, which differs for characters above U+E000 against surrogate
 * pairs (an emoji sorts before U+FFFD in UTF-16 but after it in UTF-8), so the memory store sorts
 * with compareKeys and keeps its keys in a sorted array for prefix ranges.
 */

/** Ranks a UTF-16 code unit so that unit order matches code point order: surrogates go above U+FFFF. */
function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` in UTF-8 byte order. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** A set of keys kept in UTF-8 byte order; the keys under a prefix are one contiguous run of it. */
export class SortedKeys {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  add(key: string): void {
    const at = this.lowerBound(key);
    if (this.keys[at] !== key) this.keys.splice(at, 0, key);
  }

  remove(key: string): void {
    const at = this.lowerBound(key);
    if (this.keys[at] === key) this.keys.splice(at, 1);
  }

  /**
   * The keys that start with `prefix`, in order, at most `limit` of them (0 means all). A well-formed
   * UTF-16 prefix is a UTF-8 byte prefix exactly when it is a string prefix, so startsWith is exact.
   */
  withPrefix(prefix: string, limit = 0): string[] {
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.keys.length; i++) {
      const key = this.keys[i]!;
      if (!key.startsWith(prefix) || (limit > 0 && out.length >= limit)) break;
      out.push(key);
    }
    return out;
  }

  /** The index of the first key that does not sort before `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
