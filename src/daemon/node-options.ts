/** `blixard node` options, validated and defaulted once; everything inside trusts the compiled form. */
import { isIP } from "node:net";
import { z } from "zod";
import { BlixardError } from "../core/errors.js";
import { DEFAULT_ALLOWANCE } from "../core/node-record.js";
import { STRATEGIES } from "../core/placement.js";
import { toViolations } from "../core/vm-spec.js";
import { DEFAULT_MAX_REQUEST_BYTES } from "./body-limit.js";
import { defaultDataDir } from "./data-dir.js";

const bindSchema = z.string().transform((value, ctx) => {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !host || port > 65535) {
    ctx.addIssue({
      code: "custom",
      message: `"${value}" is not HOST:PORT (e.g. 127.0.0.1:7001 or [::1]:7001)`,
    });
    return z.NEVER;
  }
  return { host, port };
});

/**
 * `sqlite` (the default, embedded) or `etcd://host:port[,host:port...][/prefix]` for an external
 * cluster; `etcd+https://...` reaches it over TLS (see --etcd-cacert, --etcd-cert, --etcd-key).
 */
const storeSchema = z.string().transform((value, ctx) => {
  if (value === "sqlite") return { kind: "sqlite" as const };
  const match = /^etcd(\+https)?:\/\/([^/]+)(\/.*)?$/.exec(value);
  const endpoints = match?.[2]?.split(",").filter((e) => e !== "") ?? [];
  if (
    !match ||
    endpoints.length === 0 ||
    endpoints.some((e) => !/^[^:\s]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/.test(e))
  ) {
    ctx.addIssue({
      code: "custom",
      message: `"${value}" is neither sqlite nor etcd[+https]://HOST:PORT[,HOST:PORT...][/PREFIX] (e.g. etcd+https://10.0.0.1:2379,10.0.0.2:2379)`,
    });
    return z.NEVER;
  }
  return {
    kind: "etcd" as const,
    endpoints: endpoints.map((e) => `${match[1] ? "https" : "http"}://${e}`),
    namespace: match[3] && match[3] !== "/" ? match[3] : "",
  };
});

/** A node to join through: HOST:PORT of its API, or its https URL (cluster nodes serve only TLS). */
const joinSchema = z.string().transform((value, ctx) => {
  const url = /^https:\/\//.test(value) ? value : `https://${value}`;
  try {
    const parsed = new URL(url);
    if (!value.startsWith("http://") && (parsed.port !== "" || value.startsWith("https://")))
      return parsed.origin;
  } catch {}
  ctx.addIssue({
    code: "custom",
    message: `"${value}" is not the API address of a node (HOST:PORT or https://HOST:PORT, e.g. 10.0.0.1:7001)`,
  });
  return z.NEVER;
});

const port = z.int().min(1).max(65535);

/** Ceph names and paths also travel inside qemu's and librados's `key=value` syntaxes: no `:` or `,`. */
const CEPH_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const cephPath = z
  .string()
  .regex(/^\/[A-Za-z0-9_./+-]*$/, "an absolute path of letters, digits, '_', '.', '+', '-' and '/'");

const baseSchema = z.strictObject({
  store: storeSchema.default({ kind: "sqlite" }),
  dataDir: z
    .string()
    .min(1)
    .default(() => defaultDataDir()),
  bind: bindSchema.default({ host: "127.0.0.1", port: 7001 }),
  /** The function gateway's listener (docs/functions.md), or "off". */
  gatewayBind: z.union([z.literal("off"), bindSchema]).default({ host: "127.0.0.1", port: 7080 }),
  accel: z.enum(["auto", "kvm", "tcg"]).default("auto"),
  /** Offer the microvm-nix driver: auto (when nix is on the PATH), on or off. */
  microvmNix: z.enum(["auto", "on", "off"]).default("auto"),
  /** strict: every qemu jailed, or the node refuses to start; none: unjailed, for hosts that cannot. */
  isolation: z.enum(["strict", "none"]).default("strict"),
  stopVmsOnExit: z.boolean().default(false),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  gracefulStopSeconds: z.number().min(0.1).max(3600).default(10),
  labels: z
    .record(z.string().max(63), z.string().max(253))
    .refine((l) => Object.keys(l).length <= 64, "at most 64 labels")
    .default({}),
  /** TTL of the node's liveness lease and of the leader's lease. */
  leaseTtlSeconds: z.int().min(2).max(300).default(5),
  /** Start a new cluster: this node runs the first managed etcd member. */
  clusterInit: z.boolean().default(false),
  /** Join the cluster that this node's API belongs to. */
  join: joinSchema.optional(),
  /** Join the cluster of an online Tailscale peer tagged tag:blixard. */
  discover: z.enum(["tailscale"]).optional(),
  /**
   * With --join/--discover: the join token (`K10<ca-sha256>::join:<id>.<secret>`, from `blixard
   * cluster token create`). Otherwise: the API bearer token this node accepts.
   */
  token: z
    .string()
    .regex(/^[A-Za-z0-9._~+/=:-]{16,256}$/, "16 to 256 characters of letters, digits and ._~+/=:-")
    .optional(),
  /** The address other nodes reach this one at (API and etcd); the bind host unless it is a wildcard. */
  advertiseHost: z.string().min(1).optional(),
  etcdClientPort: port.optional(),
  /** External etcd over TLS: the CA of its server certificates, and a client certificate and key (files). */
  etcdCacert: z.string().min(1).optional(),
  etcdCert: z.string().min(1).optional(),
  etcdKey: z.string().min(1).optional(),
  /** etcd user authentication; the password comes from a file or BLIXARD_ETCD_PASSWORD, never argv. */
  etcdUsername: z.string().min(1).max(256).optional(),
  etcdPasswordFile: z.string().min(1).optional(),
  etcdPeerPort: port.optional(),
  /** Held back for the host; VMs are placed on the rest. */
  reserveVcpus: z.int().min(0).max(4096).default(DEFAULT_ALLOWANCE.reserved.vcpus),
  reserveMemory: z
    .int()
    .min(0)
    .max(16 * 1024 * 1024)
    .default(DEFAULT_ALLOWANCE.reserved.memoryMiB),
  /** How many vcpus of VMs one host CPU may carry, and likewise for memory. */
  cpuOvercommit: z.number().min(0.1).max(64).default(DEFAULT_ALLOWANCE.overcommit.cpu),
  memoryOvercommit: z.number().min(0.1).max(4).default(DEFAULT_ALLOWANCE.overcommit.memory),
  /** The placement strategy of VMs that name none; the leader's setting applies. */
  placementStrategy: z.enum(STRATEGIES).default("spread"),
  /** How long a node may be NotReady before the leader moves its VMs elsewhere. */
  failoverGraceSeconds: z.number().min(0).max(3600).default(5),
  /** Largest request body accepted, compressed and after decompression (1 MiB by default). */
  maxRequestBytes: z
    .int()
    .min(64 * 1024)
    .max(256 * 1024 * 1024)
    .default(DEFAULT_MAX_REQUEST_BYTES),
  /** A backup file (etcd snapshot or SQLite) to seed a new node's store with. */
  restore: z.string().min(1).optional(),
  /**
   * Start although the store holds no VM at all while `vms/` holds state dirs (a lost or replaced
   * store.db): those dirs are then quarantined as orphans, never deleted.
   */
  acceptEmptyStore: z.boolean().default(false),
  /** Console logs rotate at this size (console.log plus console.log.1 kept): at most twice on disk. */
  consoleLogMaxBytes: z
    .int()
    .min(64 * 1024)
    .max(2 ** 40)
    .default(10 * 1024 * 1024),
  /**
   * The embedded SQLite store only: compact its revision log every this many seconds, keeping the last
   * `storeCompactionRetain` revisions (defaults in STORE_COMPACTION; etcd members compact themselves).
   */
  storeCompactionInterval: z.int().min(1).max(86_400).optional(),
  storeCompactionRetain: z.int().min(100).max(100_000_000).optional(),
  /**
   * The cluster's network settings, given to the first node (written to the store) and checked on
   * the others (core/cluster-network.ts validates them).
   */
  vmCidr: z.string().max(32).optional(),
  serviceCidr: z.string().max(32).optional(),
  clusterDomain: z.string().max(200).optional(),
  /**
   * Whether this node plugs bridge-mode VMs into the cluster overlay (a bridge, a VXLAN device,
   * nftables tables and a dnsmasq of its own). Off by default: it changes the host's network, and two
   * nodes sharing one host (tests, trying a cluster on a laptop) would share those devices.
   */
  bridgeNetwork: z.enum(["on", "off"]).default("off"),
  /**
   * Ceph access for RBD volumes: the cluster's conf, the client (without `client.`) and its keyring
   * (a path: the key never travels on a command line), and the pool of volumes that name none.
   */
  cephConf: cephPath.optional(),
  cephUser: z.string().regex(CEPH_NAME, "letters, digits, '_', '.' or '-'").default("admin"),
  cephKeyring: cephPath.optional(),
  cephPool: z.string().regex(CEPH_NAME, "letters, digits, '_', '.' or '-'").default("rbd"),
});

/**
 * Once a minute, keeping 10,000 revisions: a watch may fall that far behind (minutes of a busy node)
 * before it must re-list, and the log stays at a few MiB (docs/architecture.md, "Compaction").
 */
export const STORE_COMPACTION = { intervalSeconds: 60, retainRevisions: 10_000 } as const;

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

const STORE_COMPACTION_ON_ETCD =
  "applies to the embedded SQLite store only; etcd compacts its own history (a managed member keeps " +
  "1 h, an external cluster its --auto-compaction-* settings): drop the flag";

const checkedSchema = baseSchema.superRefine((o, ctx) => {
  const problem = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  const joining = o.join !== undefined || o.discover !== undefined;
  if (o.clusterInit && joining) {
    problem(
      "clusterInit",
      "cannot both start a new cluster and join one; drop --cluster-init or --join/--discover",
    );
  }
  if (o.join !== undefined && o.discover !== undefined) {
    problem("discover", "give either --join ADDR or --discover tailscale, not both");
  }
  if (joining && o.token === undefined) {
    problem(
      "token",
      "joining needs a join token: pass --token with the output of `blixard cluster token create` on a member " +
        "(or the join-token file in the first node's data dir)",
    );
  }
  if (joining && o.token !== undefined && !/^K10[0-9a-f]{64}::join:/.test(o.token)) {
    problem(
      "token",
      "not a join token (K10<ca-sha256>::join:<id>.<secret>); create one on a member with `blixard cluster token create`",
    );
  }
  if (o.store.kind === "etcd" && (o.clusterInit || joining)) {
    problem(
      "store",
      "--store etcd://... uses an external etcd cluster; --cluster-init and --join run a managed one. Choose one",
    );
  }
  if (o.restore !== undefined && joining) {
    problem(
      "restore",
      "a joining node takes the cluster's state; restore into the first node (--cluster-init)",
    );
  }
  if (o.restore !== undefined && o.store.kind === "etcd") {
    problem("restore", "restore an external etcd cluster with its own tools (etcdutl snapshot restore)");
  }
  const etcdTlsFlags = o.etcdCacert ?? o.etcdCert ?? o.etcdKey ?? o.etcdUsername;
  if (
    etcdTlsFlags !== undefined &&
    !(o.store.kind === "etcd" && o.store.endpoints[0]?.startsWith("https://"))
  ) {
    problem(
      "store",
      "--etcd-cacert/--etcd-cert/--etcd-key/--etcd-username apply to an external etcd over TLS: use --store etcd+https://HOST:PORT",
    );
  }
  if ((o.etcdCert === undefined) !== (o.etcdKey === undefined)) {
    problem("etcdKey", "a client certificate needs its key: give both --etcd-cert and --etcd-key");
  }
  const managed = o.clusterInit || joining;
  if ((o.store.kind === "etcd" || managed) && o.storeCompactionInterval !== undefined) {
    problem("storeCompactionInterval", STORE_COMPACTION_ON_ETCD);
  }
  if ((o.store.kind === "etcd" || managed) && o.storeCompactionRetain !== undefined) {
    problem("storeCompactionRetain", STORE_COMPACTION_ON_ETCD);
  }
  if (
    o.cephConf === undefined &&
    (o.cephKeyring !== undefined || o.cephUser !== "admin" || o.cephPool !== "rbd")
  ) {
    problem(
      "cephConf",
      "--ceph-user, --ceph-keyring and --ceph-pool need --ceph-conf (the Ceph cluster's ceph.conf)",
    );
  }
  if (managed && o.advertiseHost === undefined && WILDCARDS.has(o.bind.host)) {
    problem(
      "advertiseHost",
      `the API binds to ${o.bind.host}; give --advertise-host with the address other nodes reach this one at`,
    );
  }
});

/** The compaction settings as one compiled value, defaults filled in. */
export const nodeOptionsSchema = checkedSchema.transform(
  ({ storeCompactionInterval, storeCompactionRetain, ...o }) => ({
    ...o,
    storeCompaction: {
      intervalSeconds: storeCompactionInterval ?? STORE_COMPACTION.intervalSeconds,
      retainRevisions: storeCompactionRetain ?? STORE_COMPACTION.retainRevisions,
    },
  }),
);

export type NodeOptions = z.infer<typeof nodeOptionsSchema>;

/** The address other nodes and etcd peers use for this node. */
export function advertisedHost(options: NodeOptions): string {
  return options.advertiseHost ?? options.bind.host;
}

export function parseNodeOptions(input: Record<string, unknown>): NodeOptions {
  const result = nodeOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  const violations = toViolations(result.error);
  const summary = violations.map((v) => `--${kebab(v.field)}: ${v.message}`).join("; ");
  throw new BlixardError("INVALID_ARGUMENT", summary, { violations });
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

function kebab(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
