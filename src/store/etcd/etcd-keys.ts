/**
 * Keys as etcd sees them: the store's namespace followed by the key's UTF-8 bytes. The namespace
 * lets several Blixard clusters (or test cases) share one etcd cluster without seeing each other's
 * keys; the store hands back keys without it. Prefix ranges follow etcd's byte rules.
 */

/** etcd's range_end for "every key that starts with `prefix`"; "\0" means "to the end of the keyspace". */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  // Empty, or all 0xff bytes: no key is greater than every extension, so the range runs to the end.
  return Buffer.from([0]);
}

export interface KeyRange {
  key: Buffer;
  range_end: Buffer;
}

export class KeyCodec {
  private readonly namespace: Buffer;

  constructor(namespace: string) {
    this.namespace = Buffer.from(namespace, "utf8");
  }

  encode(key: string): Buffer {
    return Buffer.concat([this.namespace, Buffer.from(key, "utf8")]);
  }

  decode(raw: Buffer): string {
    return raw.subarray(this.namespace.length).toString("utf8");
  }

  /** The range of keys under `prefix`; with no namespace and an empty prefix, every key ("\0" to the end). */
  prefix(prefix: string): KeyRange {
    const start = this.encode(prefix);
    const key = start.length === 0 ? Buffer.from([0]) : start;
    return { key, range_end: prefixRangeEnd(start) };
  }
}
