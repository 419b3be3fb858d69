import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { isVmProcess, pidExists, procCmdline, procState } from "./process-probe.js";

describe("process probe", () => {
  it("recognises a live process by a state-dir path on its command line", async () => {
    const child = spawn("sh", ["-c", "sleep 30; :", "/tmp/vms/web/marker"], { stdio: "ignore" });
    try {
      const pid = child.pid!;
      // Right after spawn the child may not have exec'd yet.
      for (let i = 0; i < 100 && (await procCmdline(pid))?.[0] !== "sh"; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(pidExists(pid)).toBe(true);
      expect(await procCmdline(pid)).toEqual(["sh", "-c", "sleep 30; :", "/tmp/vms/web/marker"]);
      expect(await isVmProcess(pid, "/tmp/vms/web")).toBe(true);
      // A different VM whose name is a prefix must not match, nor a reused pid running something else.
      expect(await isVmProcess(pid, "/tmp/vms/we")).toBe(false);
      expect(await isVmProcess(process.pid, "/tmp/vms/web")).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("treats an exited, unreaped child (a zombie) as not running", async () => {
    // The shell forks `sleep`, then exec's into a long sleep that never reaps it.
    const parent = spawn("sh", ["-c", "true & exec sleep 30"], { stdio: "ignore" });
    try {
      let zombie: number | undefined;
      for (let i = 0; i < 100 && zombie === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const children = await readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, "utf8").catch(
          () => "",
        );
        const pid = Number(children.trim().split(" ")[0]);
        if (pid > 0 && (await procState(pid)) === "Z") zombie = pid;
      }
      expect(zombie).toBeDefined();
      expect(pidExists(zombie!)).toBe(true);
      expect(await isVmProcess(zombie!, "/tmp/vms/z")).toBe(false);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("reports a pid that does not exist as gone", async () => {
    expect(pidExists(0)).toBe(false);
    expect(pidExists(2 ** 22 + 1)).toBe(false);
    expect(await procState(2 ** 22 + 1)).toBeUndefined();
  });
});
