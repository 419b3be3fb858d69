import { describe, expect, it } from "vitest";
import { silentLogger } from "../ports/logger.js";
import { runCleanups } from "./cleanups.js";

describe("runCleanups", () => {
  it("runs every step in order even when one fails, then rethrows the first failure", async () => {
    const ran: string[] = [];
    const steps = [
      () => {
        ran.push("resign");
        throw new Error("store unavailable");
      },
      async () => {
        ran.push("close store");
        throw new Error("second");
      },
      () => {
        ran.push("stop etcd member");
      },
    ];
    await expect(runCleanups(steps, silentLogger)).rejects.toThrow("store unavailable");
    expect(ran).toEqual(["resign", "close store", "stop etcd member"]);
  });

  it("resolves when every step succeeds", async () => {
    const ran: number[] = [];
    await runCleanups([() => void ran.push(1), async () => void ran.push(2)], silentLogger);
    expect(ran).toEqual([1, 2]);
  });
});
