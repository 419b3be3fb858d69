/**
 * The disk a node offers to local volumes (`capacity.volumeBytes` in its record): the free space of
 * the file system under its data dir, plus what the volumes already there take, since the API counts
 * every local volume at its full size against this figure (qcow2 files grow as the guest writes).
 */
import { readdir, stat, statfs } from "node:fs/promises";
import { join } from "node:path";

export async function volumeSpace(dataDir: string, volumesDir: string): Promise<number> {
  const fs = await statfs(dataDir);
  let taken = 0;
  for (const name of await readdir(volumesDir).catch(() => [] as string[])) {
    const info = await stat(join(volumesDir, name)).catch(() => undefined);
    if (info?.isFile()) taken += info.blocks * 512;
  }
  return fs.bavail * fs.bsize + taken;
}
