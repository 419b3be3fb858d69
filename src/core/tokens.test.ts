import { describe, expect, it } from "vitest";
import { expiryProblem, formatToken, parseTokenRecord, tokenName } from "./tokens.js";

const SECRET = "ab".repeat(32);

describe("token format", () => {
  it("names its record, so lookup is one read", () => {
    expect(tokenName(formatToken("ci-deploy", SECRET))).toBe("ci-deploy");
  });

  it("treats a bare secret as the bootstrap admin token of an older data dir", () => {
    expect(tokenName("0f".repeat(32))).toBe("admin");
  });

  it("refuses malformed blx_ tokens instead of guessing a name (no store key from user input)", () => {
    expect(tokenName("blx_../../vms/x_" + SECRET)).toBeUndefined();
    expect(tokenName("blx_admin_short")).toBeUndefined();
    expect(tokenName("blx_noseparator")).toBeUndefined();
  });

  it("rejects a stored record that is not one (the store is read through one codec)", () => {
    expect(() =>
      parseTokenRecord(
        JSON.stringify({ name: "a", role: "root", hash: SECRET, createdAt: "", createdBy: "" }),
      ),
    ).toThrow();
  });

  it("says when and that a token expired", () => {
    const record = {
      name: "t",
      role: "viewer" as const,
      hash: SECRET,
      createdAt: "",
      createdBy: "",
      expiresAt: "2026-01-01T00:00:00.000Z",
    };
    expect(expiryProblem(record, Date.parse("2025-12-31T23:59:59Z"))).toBeUndefined();
    expect(expiryProblem(record, Date.parse("2026-01-01T00:00:00Z"))).toMatch(
      /^token "t" expired at 2026-01-01T00:00:00.000Z/,
    );
  });
});
