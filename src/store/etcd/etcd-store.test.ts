/** The parts of the etcd backend that need no etcd: key ranges, error mapping, options, lease ids. */
import {
  EtcdLeaseInvalidError,
  GRPCDeadlineExceededError,
  GRPCOutOfRangeError,
  GRPCUnavailableError,
} from "etcd3";
import { describe, expect, it } from "vitest";
import { type CallContext, isRetryable, toStoreError } from "./etcd-errors.js";
import { KeyCodec, prefixRangeEnd } from "./etcd-keys.js";
import { EtcdStore } from "./etcd-store.js";
import { freePorts } from "./free-ports.js";
import { randomLeaseId } from "./lease-ids.js";

const bytes = (...values: number[]) => Buffer.from(values);

describe("etcd key ranges", () => {
  it("ends a prefix range after the last byte that can be incremented", () => {
    expect(prefixRangeEnd(Buffer.from("/a/"))).toEqual(Buffer.from("/a0"));
    expect(prefixRangeEnd(bytes(0x61, 0xff, 0xff))).toEqual(bytes(0x62));
    expect(prefixRangeEnd(bytes(0xff))).toEqual(bytes(0));
    expect(prefixRangeEnd(bytes())).toEqual(bytes(0));
  });

  it("puts keys under the namespace and takes it off again", () => {
    const codec = new KeyCodec("/ns");
    expect(codec.encode("/k").toString()).toBe("/ns/k");
    expect(codec.decode(Buffer.from("/ns/k"))).toBe("/k");
    expect(codec.prefix("")).toEqual({ key: Buffer.from("/ns"), range_end: Buffer.from("/nt") });
    expect(codec.decode(codec.encode("/ü/😀"))).toBe("/ü/😀");
  });

  it("ranges over every key for the empty prefix without a namespace", () => {
    expect(new KeyCodec("").prefix("")).toEqual({ key: bytes(0), range_end: bytes(0) });
  });
});

describe("etcd errors", () => {
  const context = (kind: "read" | "write"): CallContext => ({
    what: 'put "/k"',
    kind,
    endpoints: ["http://127.0.0.1:2379"],
    timeoutMs: 5000,
  });
  const notSent = new GRPCUnavailableError(
    "14 UNAVAILABLE: No connection established. Last error: ECONNREFUSED",
  );
  const timedOut = new GRPCUnavailableError("14 UNAVAILABLE: etcdserver: request timed out");

  it("retries a write only when it never reached etcd, and a read whenever etcd was unavailable", () => {
    expect(isRetryable(notSent, "write")).toBe(true);
    expect(isRetryable(timedOut, "write")).toBe(false);
    expect(isRetryable(timedOut, "read")).toBe(true);
    expect(isRetryable(new EtcdLeaseInvalidError("1"), "read")).toBe(false);
  });

  it("says a timed-out write may still be applied, and that the cluster is unreachable or lost quorum", () => {
    const error = toStoreError(new GRPCDeadlineExceededError("4 DEADLINE_EXCEEDED"), context("write"));
    expect(error.code).toBe("DEADLINE_EXCEEDED");
    expect(error.message).toMatch(/did not answer within 5000 ms.*unreachable or has lost quorum/);
    expect(error.message).toMatch(/may still be applied/);
    expect(toStoreError(timedOut, context("write"))).toMatchObject({ code: "UNAVAILABLE" });
    // etcd's own view of the same deadline.
    const serverSide = toStoreError(new Error("2 UNKNOWN: context deadline exceeded"), context("write"));
    expect(serverSide.code).toBe("DEADLINE_EXCEEDED");
  });

  it("does not call a write ambiguous when it never left this process", () => {
    const error = toStoreError(notSent, context("write"));
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).not.toMatch(/may still be applied/);
  });

  it("maps etcd's lease, compaction and future-revision errors to the port's codes", () => {
    const lease = toStoreError(
      new EtcdLeaseInvalidError("etcdserver: requested lease not found"),
      context("write"),
    );
    expect(lease.code).toBe("LEASE_NOT_FOUND");
    const compacted = new GRPCOutOfRangeError(
      "11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted",
    );
    expect(toStoreError(compacted, context("write")).code).toBe("COMPACTED");
    const future = new GRPCOutOfRangeError(
      "11 OUT_OF_RANGE: etcdserver: mvcc: required revision is a future revision",
    );
    expect(toStoreError(future, context("write")).code).toBe("INVALID_ARGUMENT");
  });
});

describe("EtcdStore.connect", () => {
  it("refuses an empty endpoint list with INVALID_ARGUMENT", async () => {
    await expect(EtcdStore.connect({ endpoints: [] })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("fails with UNAVAILABLE within the dial timeout when nothing listens", async () => {
    const [port] = await freePorts(1);
    const start = Date.now();
    await expect(
      EtcdStore.connect({ endpoints: [`http://127.0.0.1:${port}`], dialTimeoutMs: 500 }),
    ).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringMatching(/cannot reach the etcd cluster/),
    });
    expect(Date.now() - start).toBeLessThan(3000);
  });
});

describe("lease ids", () => {
  it("are positive safe integers", () => {
    for (let i = 0; i < 1000; i++) {
      const id = randomLeaseId();
      expect(Number.isSafeInteger(id) && id > 0).toBe(true);
    }
  });
});
