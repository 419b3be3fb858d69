/**
 * Conversions between the port's types and etcd's wire types. etcd counts in int64, which the
 * library hands over as decimal strings; Blixard's revisions, versions and lease ids stay far below
 * 2^53 (the store picks its own lease ids, see lease-ids.ts), so they become plain numbers, and a
 * value that does not fit is reported instead of being rounded.
 */
import { CompareResult, CompareTarget, type ICompare, type IKeyValue, type IRequestOp } from "etcd3";
import { BlixardError } from "../../core/errors.js";
import type { Compare, CompareOp, KeyValue, TxnOp } from "../../ports/store.js";
import type { KeyCodec } from "./etcd-keys.js";

export function toNumber(value: string | number, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new BlixardError(
      "INTERNAL",
      `etcd returned ${value} for ${what}, beyond the integers Blixard handles exactly (2^53); ` +
        "keep other etcd clients out of Blixard's key namespace",
    );
  }
  return n;
}

export function toKeyValue(codec: KeyCodec, kv: IKeyValue): KeyValue {
  const key = codec.decode(kv.key);
  return {
    key,
    value: kv.value.toString("utf8"),
    createRevision: toNumber(kv.create_revision, `the create revision of ${JSON.stringify(key)}`),
    modRevision: toNumber(kv.mod_revision, `the mod revision of ${JSON.stringify(key)}`),
    version: toNumber(kv.version, `the version of ${JSON.stringify(key)}`),
    lease: toNumber(kv.lease, `the lease of ${JSON.stringify(key)}`),
  };
}

const RESULTS: Record<CompareOp, CompareResult> = {
  "=": CompareResult.Equal,
  "!=": CompareResult.NotEqual,
  "<": CompareResult.Less,
  ">": CompareResult.Greater,
};

export function toCompare(codec: KeyCodec, compare: Compare): ICompare {
  const base = { key: codec.encode(compare.key), result: RESULTS[compare.op] };
  switch (compare.target) {
    case "modRevision":
      return { ...base, target: CompareTarget.Mod, mod_revision: compare.value };
    case "createRevision":
      return { ...base, target: CompareTarget.Create, create_revision: compare.value };
    case "version":
      return { ...base, target: CompareTarget.Version, version: compare.value };
  }
}

export function toRequestOp(codec: KeyCodec, op: TxnOp): IRequestOp {
  switch (op.type) {
    case "put":
      return {
        request_put: {
          key: codec.encode(op.key),
          value: Buffer.from(op.value, "utf8"),
          lease: op.lease ?? 0,
        },
      };
    case "delete":
      return { request_delete_range: { key: codec.encode(op.key) } };
    case "deletePrefix":
      return { request_delete_range: codec.prefix(op.prefix) };
  }
}
