/**
 * The argv of every `rbd`, `rados` and `ceph` call the RBD backend makes, built in one place so that
 * tests can read them: arrays only (never a shell string), the connection given as `--conf`, `--id`
 * and `--keyring` (a path: no key ever appears on a command line), and every name checked before it
 * becomes an argument, so that nothing read from a record or from Ceph's own JSON can pass for an
 * option (`--...`) or another pool's image (`a/b`).
 */
import { BlixardError } from "../../core/errors.js";

export interface CephConnection {
  /** The ceph.conf the node was given (`--ceph-conf`). */
  confPath: string;
  /** The client name without `client.` (`--ceph-user`). */
  user: string;
  /** The keyring holding that client's key (`--ceph-keyring`); librados's default search without it. */
  keyringPath?: string;
}

/** Pool, image and snapshot names: Ceph allows more, Blixard derives all of them and needs no more. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** A host path handed to a Ceph tool or to qemu's rbd filename syntax, where `:` and `@` separate fields. */
const PATH = /^\/[A-Za-z0-9_./+-]*$/;

export function checkCephName(what: string, value: string): string {
  if (!NAME.test(value)) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `${what} ${JSON.stringify(value)} is not a valid Ceph name: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

export function checkCephPath(what: string, value: string): string {
  if (!PATH.test(value) || value.split("/").includes("..")) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `${what} ${JSON.stringify(value)} must be an absolute path of letters, digits, '_', '.', '+', '-' and '/'`,
    );
  }
  return value;
}

/** The image that holds the bytes of volume `volumeId`: derived from the id, never from a user's name. */
export function rbdImageForVolume(volumeId: string): string {
  return checkCephName("volume id", `blixard-vol-${volumeId}`);
}

/** Where a create builds the image before renaming it into place, so that a half-made image is never seen. */
export function partialImage(image: string): string {
  return checkCephName("image", `${image}.partial`);
}

/** `--conf C --id U [--keyring K]`: how every tool finds the cluster and authenticates. */
export function connectionArgs(conn: CephConnection): string[] {
  const args = [
    "--conf",
    checkCephPath("ceph conf", conn.confPath),
    "--id",
    checkCephName("ceph user", conn.user),
  ];
  if (conn.keyringPath !== undefined) args.push("--keyring", checkCephPath("ceph keyring", conn.keyringPath));
  return args;
}

export function imageSpec(pool: string, image: string, snapshot?: string): string {
  const spec = `${checkCephName("pool", pool)}/${checkCephName("image", image)}`;
  return snapshot === undefined ? spec : `${spec}@${checkCephName("snapshot", snapshot)}`;
}

function byteSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % 512 !== 0) {
    throw new BlixardError("INVALID_ARGUMENT", `size ${bytes} must be a positive multiple of 512 bytes`);
  }
  return `${bytes}B`;
}

/** The argv (after the tool's name) of each operation. */
export const rbdArgv = {
  create: (conn: CephConnection, pool: string, image: string, sizeBytes: number) => [
    ...connectionArgs(conn),
    "create",
    "--size",
    byteSize(sizeBytes),
    imageSpec(pool, image),
  ],
  import: (conn: CephConnection, path: string, pool: string, image: string) => [
    ...connectionArgs(conn),
    "import",
    "--no-progress",
    checkCephPath("source image", path),
    imageSpec(pool, image),
  ],
  deepCopy: (
    conn: CephConnection,
    from: { pool: string; image: string; snapshot: string },
    pool: string,
    image: string,
  ) => [
    ...connectionArgs(conn),
    "deep",
    "cp",
    "--no-progress",
    imageSpec(from.pool, from.image, from.snapshot),
    imageSpec(pool, image),
  ],
  resize: (conn: CephConnection, pool: string, image: string, sizeBytes: number) => [
    ...connectionArgs(conn),
    "resize",
    "--no-progress",
    "--size",
    byteSize(sizeBytes),
    imageSpec(pool, image),
  ],
  rename: (conn: CephConnection, pool: string, from: string, to: string) => [
    ...connectionArgs(conn),
    "rename",
    imageSpec(pool, from),
    imageSpec(pool, to),
  ],
  info: (conn: CephConnection, pool: string, image: string) => [
    ...connectionArgs(conn),
    "info",
    "--format",
    "json",
    imageSpec(pool, image),
  ],
  snapCreate: (conn: CephConnection, pool: string, image: string, snapshot: string) => [
    ...connectionArgs(conn),
    "snap",
    "create",
    "--no-progress",
    imageSpec(pool, image, snapshot),
  ],
  snapPurge: (conn: CephConnection, pool: string, image: string) => [
    ...connectionArgs(conn),
    "snap",
    "purge",
    "--no-progress",
    imageSpec(pool, image),
  ],
  remove: (conn: CephConnection, pool: string, image: string) => [
    ...connectionArgs(conn),
    "rm",
    "--no-progress",
    imageSpec(pool, image),
  ],
  status: (conn: CephConnection, pool: string, image: string) => [
    ...connectionArgs(conn),
    "status",
    "--format",
    "json",
    imageSpec(pool, image),
  ],
  lockList: (conn: CephConnection, pool: string, image: string) => [
    ...connectionArgs(conn),
    "lock",
    "ls",
    "--format",
    "json",
    imageSpec(pool, image),
  ],
  lockRemove: (conn: CephConnection, pool: string, image: string, lockId: string, locker: string) => [
    ...connectionArgs(conn),
    "lock",
    "rm",
    imageSpec(pool, image),
    checkLockId(lockId),
    checkClient(locker),
  ],
};

/**
 * `qemu-img convert` of a non-raw image (qcow2) into a new RBD image. qemu's rbd filename syntax takes
 * the connection as `:key=value` fields, so the paths were checked to hold no `:`; the keyring is a
 * path, never the key.
 */
export function qemuImgConvertToRbd(
  conn: CephConnection,
  path: string,
  pool: string,
  image: string,
): string[] {
  const fields = [
    `rbd:${imageSpec(pool, image)}`,
    `id=${checkCephName("ceph user", conn.user)}`,
    `conf=${checkCephPath("ceph conf", conn.confPath)}`,
  ];
  if (conn.keyringPath !== undefined)
    fields.push(`keyring=${checkCephPath("ceph keyring", conn.keyringPath)}`);
  return ["convert", "-O", "raw", checkCephPath("source image", path), fields.join(":")];
}

/** `rados lspools`, bounded by librados's own mount timeout (seconds) as well as the caller's. */
export function radosListPools(conn: CephConnection, timeoutSeconds: number): string[] {
  return [...connectionArgs(conn), "--client_mount_timeout", String(timeoutSeconds), "lspools"];
}

/** `ceph osd blocklist add ADDR`: the OSDs refuse every request from that client instance from now on. */
export function cephBlocklistAdd(conn: CephConnection, address: string): string[] {
  return [
    ...connectionArgs(conn),
    "--connect-timeout",
    "10",
    "osd",
    "blocklist",
    "add",
    checkAddress(address),
  ];
}

/** A client instance's address as Ceph prints it: `IP:PORT/NONCE` (v4 or bracketed v6). */
const ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}\/\d{1,20}$/;
const CLIENT = /^client\.\d{1,20}$/;
/** librbd's exclusive-lock ids are `auto <cookie>`; a manual `rbd lock add` id is any text, not an option. */
const LOCK_ID = /^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,127}$/;

export function checkAddress(address: string): string {
  if (!ADDRESS.test(address))
    throw new BlixardError(
      "DRIVER_FAILED",
      `Ceph reported an unexpected client address ${JSON.stringify(address)}`,
    );
  return address;
}

export function checkClient(client: string): string {
  if (!CLIENT.test(client))
    throw new BlixardError("DRIVER_FAILED", `Ceph reported an unexpected client ${JSON.stringify(client)}`);
  return client;
}

export function checkLockId(id: string): string {
  if (!LOCK_ID.test(id))
    throw new BlixardError("DRIVER_FAILED", `Ceph reported an unexpected lock id ${JSON.stringify(id)}`);
  return id;
}
