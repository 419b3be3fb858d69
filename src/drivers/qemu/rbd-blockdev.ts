/**
 * qemu's `-blockdev` for an RBD volume: librbd inside qemu opens the image with the conf (and, named
 * by it, the keyring) the node wrote into the VM's state dir (shared/ceph-client-files.ts); no key is
 * ever on qemu's command line. The caller adds the device (`virtio-blk-device,drive=<id>`) in the
 * VM's volume order. Pure.
 */
import { BlixardError } from "../../core/errors.js";
import type { RbdSource } from "../shared/ceph-client-files.js";
import { qemuOptValue } from "./qemu-args.js";

const NODE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

export function rbdBlockdevArgs(source: RbdSource, id: string, readOnly = false): string[] {
  if (!NODE_NAME.test(id)) {
    throw new BlixardError("INTERNAL", `block node name ${JSON.stringify(id)} is not a qemu node name`);
  }
  const options = [
    "driver=rbd",
    `node-name=${id}`,
    `pool=${qemuOptValue(source.pool)}`,
    `image=${qemuOptValue(source.image)}`,
    `conf=${qemuOptValue(source.confPath)}`,
    `user=${qemuOptValue(source.user)}`,
    `read-only=${readOnly ? "on" : "off"}`,
    // The guest's discards free the image's objects in the pool.
    "discard=unmap",
  ];
  return ["-blockdev", options.join(",")];
}
