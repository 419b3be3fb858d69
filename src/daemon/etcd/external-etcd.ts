/**
 * How this node reaches an external etcd (`--store etcd+https://...`): TLS files and user credentials
 * read once at start. The password comes from --etcd-password-file or BLIXARD_ETCD_PASSWORD, so it
 * never appears on a command line (visible to every local user in /proc).
 */
import { readFileSync } from "node:fs";
import { BlixardError } from "../../core/errors.js";
import type { EtcdConnection } from "../../store/etcd/etcd-options.js";
import type { NodeOptions } from "../node-options.js";

export function externalEtcdConnection(
  options: NodeOptions,
  env: NodeJS.ProcessEnv = process.env,
): EtcdConnection {
  if (options.store.kind !== "etcd" || !options.store.endpoints[0]?.startsWith("https://")) return {};
  const read = (path: string | undefined, flag: string) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      throw new BlixardError(
        "INVALID_ARGUMENT",
        `${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`,
        { cause: err },
      );
    }
  };
  const caPem = read(options.etcdCacert, "--etcd-cacert");
  const certPem = read(options.etcdCert, "--etcd-cert");
  const keyPem = read(options.etcdKey, "--etcd-key");
  const password =
    read(options.etcdPasswordFile, "--etcd-password-file")?.trim() ?? env["BLIXARD_ETCD_PASSWORD"];
  if (options.etcdUsername !== undefined && !password) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      "--etcd-username needs a password: give --etcd-password-file FILE or set BLIXARD_ETCD_PASSWORD",
    );
  }
  return {
    tls: {
      ...(caPem === undefined ? {} : { caPem }),
      ...(certPem === undefined ? {} : { certPem }),
      ...(keyPem === undefined ? {} : { keyPem }),
    },
    ...(options.etcdUsername !== undefined && password
      ? { auth: { username: options.etcdUsername, password } }
      : {}),
  };
}
