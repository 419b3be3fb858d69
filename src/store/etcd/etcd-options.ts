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
  /** TLS for https:// endpoints: the CA that signed the members' certificates, and a client certificate. */
  tls?: EtcdTls;
  /** etcd's own user authentication (etcd's `auth enable`), on top of TLS. */
  auth?: { username: string; password: string };
}

/** PEM texts; a client certificate and key go together. */
export interface EtcdTls {
  caPem?: string;
  certPem?: string;
  keyPem?: string;
}

/** How each etcd3 client reaches the members: TLS material and user credentials when given. */
export interface EtcdConnection {
  tls?: EtcdTls;
  auth?: { username: string; password: string };
}

export interface CompiledEtcdStoreOptions {
  endpoints: readonly string[];
  dialTimeoutMs: number;
  callTimeoutMs: number;
  namespace: string;
  logger: Logger;
  connection: EtcdConnection;
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
  const tls = options.tls;
  if (tls && (tls.certPem === undefined) !== (tls.keyPem === undefined)) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      "an etcd client certificate needs its key and the other way round; pass both --etcd-cert and --etcd-key",
    );
  }
  const secure = endpoints.filter((e) => e.startsWith("https://")).length;
  if (secure > 0 && secure < endpoints.length) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `the etcd endpoints mix https:// and plain ones (${endpoints.join(", ")}); use TLS for all of them`,
    );
  }
  if (secure === 0 && (tls !== undefined || options.auth !== undefined)) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      "etcd TLS files or credentials were given for plain http:// endpoints, where they would travel in " +
        "the clear; use https:// endpoints",
    );
  }
  return {
    endpoints,
    connection: {
      ...(tls === undefined && secure > 0 ? { tls: {} } : tls === undefined ? {} : { tls }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
    },
    dialTimeoutMs: positiveMs(options.dialTimeoutMs, 5_000, "dialTimeoutMs"),
    callTimeoutMs: positiveMs(options.callTimeoutMs, 5_000, "callTimeoutMs"),
    namespace: options.namespace ?? "",
    logger: (options.logger ?? silentLogger).child({ component: "etcd-store" }),
  };
}
