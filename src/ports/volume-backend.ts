/**
 * The VolumeBackend port: where a named volume's bytes live and how qemu opens them. A volume is a
 * cluster object (its record in the store); a backend only creates, copies, fences and removes the
 * bytes. `local` keeps a qcow2 file in one node's data dir (the volume belongs to that node); `rbd`
 * keeps an image in a Ceph pool that every node with Ceph access can open. One contract suite runs
 * against every implementation.
 */

/** A create's progress (the same shape as vm-driver.ts's, kept here: vm-driver.ts imports this port). */
export type ProgressFn = (progress: { step: string; fraction?: number }) => void;

export const VOLUME_BACKENDS = ["local", "rbd"] as const;
export type VolumeBackendName = (typeof VOLUME_BACKENDS)[number];

/** Where a volume's bytes are: `image` is the backend's own name for them, derived from the volume id. */
export interface VolumeLocation {
  backend: VolumeBackendName;
  /** rbd: the Ceph pool. local: unused. */
  pool?: string;
  /** A name the backend derives from the volume's id, never from user strings. */
  image: string;
}

export interface CreateVolumeOptions {
  sizeBytes: number;
  /** A host path (admin only, checked at the API's edge) whose contents the volume starts with. */
  fromImage?: string;
  /** A snapshot of another volume to clone from (same backend). */
  fromSnapshot?: { source: VolumeLocation; snapshot: string };
}

/** How qemu opens a volume: a `-blockdev` description the driver places after the boot disk. */
export type BlockSource =
  | { kind: "file"; path: string; format: "qcow2" | "raw" }
  | {
      kind: "rbd";
      pool: string;
      image: string;
      /** Ceph client name without `client.` (e.g. `admin`). */
      user: string;
      /** Host paths: the jail binds them read-only into the VM's view. */
      confPath: string;
      keyringPath?: string;
    };

/** Who holds (writes) an image now: what a fence acts on. */
export interface VolumeHolder {
  /** The backend's client identity, e.g. Ceph's `client.4123` with its address. */
  client: string;
  address?: string;
}

export interface VolumeBackend {
  readonly name: VolumeBackendName;
  /** Whether the backend can be used from this node now (e.g. Ceph reachable), and why not. */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Creates the bytes. Idempotent for the same location: a retried create does not fail or wipe. */
  create(location: VolumeLocation, options: CreateVolumeOptions, progress?: ProgressFn): Promise<void>;
  /** Removes the bytes and their snapshots. Removing what does not exist succeeds. */
  remove(location: VolumeLocation): Promise<void>;
  exists(location: VolumeLocation): Promise<boolean>;
  snapshot(location: VolumeLocation, snapshot: string): Promise<void>;
  /** How qemu opens the volume, read-only or not. */
  source(location: VolumeLocation, readOnly: boolean): BlockSource;
  /**
   * Makes sure no other client can write the volume any more, before this node starts a VM on it
   * (failover, drain, migration). Returns whom it fenced. Backends whose volume lives on one node
   * (local) fence nothing: the scheduler never places the VM elsewhere.
   */
  fence(location: VolumeLocation): Promise<VolumeHolder[]>;
}
