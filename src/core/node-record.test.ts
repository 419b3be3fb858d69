import { describe, expect, it } from "vitest";
import { parseLabels } from "./node-record.js";

describe("parseLabels", () => {
  it("parses k=v pairs, including prefixed keys and empty values", () => {
    expect(parseLabels(["zone=eu-1", "blixard.io/gpu=", "tier=gold"])).toEqual({
      zone: "eu-1",
      "blixard.io/gpu": "",
      tier: "gold",
    });
  });

  it.each(["zone", "=x", "bad key=x", "zone=a b", "-x=1"])("rejects %j with the expected format", (flag) => {
    expect(() => parseLabels([flag])).toThrow(/must be KEY=VALUE/);
  });
});
