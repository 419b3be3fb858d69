/**
 * Reading volumes and the claims VMs hold on them. A claim (an attachment in the volume's record) is
 * live while its VM's record exists and still names the volume: the agent deletes a VM's record only
 * after its qemu has stopped, so a lapsed claim can be dropped by the next writer, and a VM's delete
 * writes nothing to the volumes it held.
 */
import { keys } from "../core/keys.js";
import { placementCodec } from "../core/store-codecs.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import { type VolumeAttachment, volumeRecordCodec } from "../core/volume.js";
import type { Store } from "../ports/store.js";
import type { StoredVolume } from "./volume-transactions.js";

export type VolumeRead = { ok: true; volume: StoredVolume } | { ok: false; problem: string } | undefined;

/** The volume's record and key-value; undefined when there is none, a problem when it cannot be read. */
export async function readVolume(store: Store, name: string): Promise<VolumeRead> {
  const kv = await store.get(keys.volume(name));
  if (!kv) return undefined;
  const decoded = volumeRecordCodec.decode(kv.value);
  return decoded.ok ? { ok: true, volume: { record: decoded.value, kv } } : decoded;
}

export interface LiveAttachment extends VolumeAttachment {
  /** The node the VM is placed on; "" while it waits for the scheduler. */
  node: string;
}

/** The record's claims whose VM still exists and still names the volume, with where each VM runs. */
export async function liveAttachments(store: Store, volume: StoredVolume): Promise<LiveAttachment[]> {
  const checked = await Promise.all(
    volume.record.attachments.map(async (a) => {
      const [kv, placement] = await Promise.all([store.get(keys.vm(a.vm)), store.get(keys.placement(a.vm))]);
      if (!kv) return undefined;
      const decoded = decodeVmRecord(a.vm, kv.value);
      // A record that cannot be read may still be a running VM's: its claim stays.
      const names = decoded.ok
        ? decoded.record.spec.volumes?.some((v) => v.name === volume.record.name)
        : true;
      if (!names) return undefined;
      const placed = placement ? placementCodec.decode(placement.value) : undefined;
      return { ...a, node: placed?.ok ? placed.value.node : "" };
    }),
  );
  return checked.filter((a): a is LiveAttachment => a !== undefined);
}
