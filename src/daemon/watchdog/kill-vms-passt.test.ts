import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isVmProcess, procCmdline } from "../../drivers/shared/process-probe.js";
import { killNodeVms } from "./kill-vms.js";

async function started(argv: string[]): Promise<number> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
  const pid = child.pid!;
  for (let i = 0; i < 100 && (await procCmdline(pid))?.[0] !== argv[0]; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return pid;
}

describe("the watchdog's kill of a node's VMs", () => {
  let vmsDir: string;
  const pids: number[] = [];
  beforeEach(() => {
    vmsDir = mkdtempSync(join(tmpdir(), "kill-vms-"));
  });
  afterEach(() => {
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    rmSync(vmsDir, { recursive: true, force: true });
  });

  it("kills each VM's passt with its qemu, so no guest network outlives a fenced node", async () => {
    const stateDir = join(vmsDir, "web");
    mkdirSync(stateDir);
    // Stand-ins with the state dir on their command lines, as qemu's and passt's are.
    const qemu = await started(["sh", "-c", "sleep 60; :", `${stateDir}/qmp.sock`]);
    const passt = await started(["sh", "-c", "sleep 60; :", `${stateDir}/passt.sock`]);
    // A process that is not this VM's, whose pid the record names as passt's: never killed.
    const bystander = await started(["sh", "-c", "sleep 60; :", "/elsewhere/passt.sock"]);
    pids.push(qemu, passt, bystander);
    writeFileSync(join(stateDir, "vm.json"), JSON.stringify({ pid: qemu, startedAt: 1, passtPid: passt }));
    const other = join(vmsDir, "db");
    mkdirSync(other);
    writeFileSync(
      join(other, "vm.json"),
      JSON.stringify({ pid: 999_999_999, startedAt: 1, passtPid: bystander }),
    );

    expect(await killNodeVms(vmsDir)).toEqual([{ name: "web", pid: qemu }]);
    for (
      let i = 0;
      i < 100 && ((await isVmProcess(qemu, stateDir)) || (await isVmProcess(passt, stateDir)));
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await isVmProcess(qemu, stateDir)).toBe(false);
    expect(await isVmProcess(passt, stateDir)).toBe(false);
    expect(await isVmProcess(bystander, "/elsewhere")).toBe(true);
  });
});
