/**
 * Prefix ranges over keys stored as SQLite TEXT. SQLite compares TEXT by its UTF-8 bytes, which is
 * code point order and also etcd's byte order, so "key starts with P" is the half-open range
 * [P, prefixEnd(P)) and can use the primary-key index instead of scanning with LIKE or substr.
 */

/** The smallest string greater than every string that starts with `prefix`; undefined means "no bound". */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = Array.from(prefix);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Surrogate code points cannot appear in UTF-8, so the successor of U+D7FF is U+E000.
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return codePoints.join("") + String.fromCodePoint(next);
    }
    // U+10FFFF has no successor: every key with the shorter prefix is then in range.
  }
  return undefined;
}
