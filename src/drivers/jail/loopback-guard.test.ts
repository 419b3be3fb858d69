import { describe, expect, it } from "vitest";
import { GUARDED_UIDS, guardRuleset } from "./loopback-guard.js";
import { VM_GROUP, VM_UID_BASE, VM_UID_COUNT } from "./vm-uid.js";

describe("loopback guard", () => {
  it("rejects new connections from every VM uid and the unjailed passt's to the host's loopback, v4 and v6", () => {
    const rules = guardRuleset();
    expect(GUARDED_UIDS).toBe(`${VM_GROUP}-${VM_UID_BASE + VM_UID_COUNT - 1}`);
    for (const daddr of ["ip daddr 127.0.0.0/8", "ip6 daddr ::1"]) {
      expect(rules).toContain(
        `meta skuid ${GUARDED_UIDS} ct state new ${daddr} counter reject with tcp reset`,
      );
      expect(rules).toContain(`meta skuid ${GUARDED_UIDS} ct state new ${daddr} counter reject\n`);
    }
    // Only new flows: the host connecting in through a port forward gets its replies.
    expect(rules).not.toMatch(/skuid [^\n]*(?<!ct state new )ip daddr/);
  });

  it("replaces the whole table on every start, so a second node or a restart leaves one copy", () => {
    const rules = guardRuleset().split("\n");
    expect(rules.slice(0, 3)).toEqual([
      "table inet blixard_vm_guard",
      "delete table inet blixard_vm_guard",
      "table inet blixard_vm_guard {",
    ]);
  });
});
