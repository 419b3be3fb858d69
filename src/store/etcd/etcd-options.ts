/** The options of EtcdStore.connect, checked and defaulted once. */
import { BlixardError } from "../../core/errors.js";
import { type Logger, silentLogger } from "../../ports/logger.js";

export interface EtcdStoreOptions {
  /** Client URLs of the members, e.g. "http://127.0.0.1:2379" ("https://" for TLS), or host:port. */
  endpoints: readonly string[];
  /** How long connect() keeps trying to reach the cluster before failing with UNAVAILABLE; 5 s by default. */
  dialTimeoutMs?: number;
  /**
   * The deadline of each call, retries included; 5 s by default. A call that cannot reach a quorum in
   * time fails with DEADLINE_EXCEEDED or UNAVAILABLE instead of waiting for the cluster to recover.
   */
  callTimeoutMs?: number;
  /**
   * A key prefix that keeps this store apart from other users of the same etcd cluster, such as
   * another Blixard cluster; keys are stored under it and returned without it. "" by default.
   */
  namespace?: string;
  logger?: Logger;
}

export interface CompiledEtcdStoreOptions {
  endpoints: readonly string[];
  dialTimeoutMs: number;
  callTimeoutMs: number;
  namespace: string;
  logger: Logger;
}

function positiveMs(value: number | undefined, fallback: number, name: string): number {
  const ms = value ?? fallback;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `${name} must be a positive number of milliseconds, got ${ms}`,
    );
  }
  return ms;
}

export function compileEtcdStoreOptions(options: EtcdStoreOptions): CompiledEtcdStoreOptions {
  const endpoints = options.endpoints.map((endpoint) => endpoint.trim()).filter((e) => e !== "");
  if (endpoints.length === 0) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      "no etcd endpoints given; pass the client URLs of the members, e.g. http://127.0.0.1:2379",
    );
  }
  return {
    endpoints,
    dialTimeoutMs: positiveMs(options.dialTimeoutMs, 5_000, "dialTimeoutMs"),
    callTimeoutMs: positiveMs(options.callTimeoutMs, 5_000, "callTimeoutMs"),
    namespace: options.namespace ?? "",
    logger: (options.logger ?? silentLogger).child({ component: "etcd-store" }),
  };
}
