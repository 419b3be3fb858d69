/** What `blixard node quarantine list|delete` do, on this host's `<data-dir>/quarantine/`. */
import { defaultDataDir } from "../daemon/default-data-dir.js";
import { deleteQuarantined, listQuarantine } from "../drivers/shared/quarantine.js";
import { outputFormat, printData, renderTable } from "./output.js";

const dir = (dataDir: string | undefined) => `${dataDir ?? defaultDataDir()}/quarantine`;

export async function listQuarantined(
  dataDir: string | undefined,
  flags: { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  const entries = await listQuarantine(dir(dataDir));
  await printData(format, entries, () =>
    entries.length === 0
      ? "nothing in quarantine\n"
      : renderTable(
          ["NAME", "VM", "SINCE", "SIZE", "REASON"],
          entries.map((e) => [e.entry, e.vm, e.at, mib(e.bytes), e.reason]),
        ),
  );
}

export async function deleteQuarantinedDir(dataDir: string | undefined, name: string): Promise<void> {
  await deleteQuarantined(dir(dataDir), name);
  process.stdout.write(`quarantine/${name} deleted\n`);
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
