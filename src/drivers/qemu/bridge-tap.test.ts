import { describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import { bridgeAttachment } from "../../core/vm-network.js";
import { checkAttachment } from "./bridge-tap.js";

function refused(patch: Record<string, unknown>): boolean {
  try {
    checkAttachment("web-1", { ...bridgeAttachment("10.88.0.5"), ...patch });
    return false;
  } catch (err) {
    return isBlixardError(err, "INVALID_ARGUMENT");
  }
}

describe("checkAttachment", () => {
  it("accepts the attachment derived from a cluster address", () => {
    expect(checkAttachment("web-1", bridgeAttachment("10.88.0.5")).tap).toBe("blxt0a580005");
  });

  it("refuses a tap or MAC that would inject qemu options or name a device that is not a VM tap", () => {
    expect(refused({ tap: "blxt0,script=/tmp/x" })).toBe(true);
    expect(refused({ tap: "eth0" })).toBe(true);
    expect(refused({ mac: "02:b1:0a:58:00:05,romfile=/etc/shadow" })).toBe(true);
    expect(refused({ bridge: "blxbr0 type" })).toBe(true);
    expect(refused({ mtu: 70_000 })).toBe(true);
  });
});
