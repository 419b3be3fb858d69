/**
 * What the watchdog does when the node's lease heartbeat goes stale: SIGKILL every qemu process this
 * node started, found through each VM's launch record or pidfile and checked against its command line
 * (the state dir must appear in it), so a reused pid is never killed. Each VM's passt goes with it.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isVmProcess } from "../../drivers/shared/process-probe.js";
import { readPidfile, readRecordFile } from "../../drivers/shared/record-file.js";

export async function killNodeVms(vmsDir: string): Promise<{ name: string; pid: number }[]> {
  if (!existsSync(vmsDir)) return [];
  const killed: { name: string; pid: number }[] = [];
  for (const name of readdirSync(vmsDir)) {
    const stateDir = join(vmsDir, name);
    const record = await readRecordFile(join(stateDir, "vm.json"));
    // passt (the VM's user networking) would end with qemu anyway; killed too so nothing is left.
    const passt = record?.passtPid;
    if (passt !== undefined && (await isVmProcess(passt, stateDir))) {
      try {
        process.kill(passt, "SIGKILL");
      } catch {}
    }
    const pid = record?.pid ?? (await readPidfile(join(stateDir, "qemu.pid")));
    if (pid === undefined || !(await isVmProcess(pid, stateDir))) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed.push({ name, pid });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
  return killed;
}
