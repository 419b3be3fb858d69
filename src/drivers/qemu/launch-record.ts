/**
 * The qemu driver's `vm.json`: what it launched, written right after the spawn. Besides the pid it
 * shows a human exactly which command ran, with which acceleration and jail.
 */
import type { BridgeAttachment } from "../../core/vm-network.js";
import type { VmSpec } from "../../core/vm-spec.js";
import { type BaseLaunchRecord, readRecordFile, writeRecordFile } from "../shared/record-file.js";
import type { Accel } from "./accel.js";

export interface LaunchRecord extends BaseLaunchRecord {
  name: string;
  accel: Accel;
  qemuBinary: string;
  argv: string[];
  spec: VmSpec;
  /** Absent when the node runs VMs unjailed (`--isolation none`). */
  jail?: { uid: number; cgroups: string[]; command: string[] };
  /** Bridge mode: the tap the VM is plugged into, deleted when it stops or is removed. */
  bridge?: BridgeAttachment;
}

export async function writeLaunchRecord(file: string, record: LaunchRecord): Promise<void> {
  await writeRecordFile(file, record);
}

export async function readLaunchRecord(file: string): Promise<LaunchRecord | undefined> {
  return readRecordFile<LaunchRecord>(file);
}
