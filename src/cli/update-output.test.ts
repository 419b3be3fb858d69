import { describe, expect, it } from "vitest";
import { describe as describeResult, shown } from "./update-actions.js";

describe("update output", () => {
  it("prints the verb, the restart note and a FIELD/OLD/NEW table", () => {
    const text = describeResult({
      name: "web",
      action: "updated",
      dryRun: true,
      restart: true,
      changes: [
        { path: "memory", old: 256, new: 512 },
        { path: "initrd", old: null, new: "/i" },
      ],
    });
    expect(text).toBe(
      "vm/web would be updated (the VM would restart to apply it)\n" +
        "FIELD    OLD   NEW\nmemory   256   512\ninitrd   -     /i\n",
    );
    expect(
      describeResult({ name: "db", action: "unchanged", dryRun: true, restart: false, changes: [] }),
    ).toBe("vm/db unchanged\n");
    expect(
      describeResult({
        name: "db",
        action: "updated",
        dryRun: false,
        restart: false,
        nextStart: true,
        changes: [],
      }),
    ).toBe("vm/db updated (applied at its next start)\n");
    // A dry run's refusal is a failure, not something that "would be" done.
    expect(
      describeResult({
        name: "db",
        action: "failed",
        dryRun: true,
        restart: false,
        changes: [],
        error: "spec.memory: too small",
      }),
    ).toBe("vm/db failed: spec.memory: too small\n");
  });

  it("spells out control characters, so a spec's escape sequences cannot rewrite the terminal", () => {
    // The attack: a cmdline that clears the screen and fakes a line of output.
    expect(shown("quiet\u001b[2J\u009b31m")).toBe("quiet\\u001b[2J\\u009b31m");
    expect(shown({ host: 8080 })).toBe('{"host":8080}');
  });
});
