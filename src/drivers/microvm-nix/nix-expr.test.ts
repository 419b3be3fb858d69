import { describe, expect, it } from "vitest";
import { nixString, nixValue, raw } from "./nix-expr.js";

describe("Nix values", () => {
  it("escapes quotes, backslashes and interpolations in strings", () => {
    const dollarBrace = "$" + "{";
    expect(nixString(`a"b\\c${dollarBrace}d}$e`)).toBe(`"a\\"b\\\\c\\${dollarBrace}d}$e"`);
    expect(nixString("line\nnext")).toBe('"line\\nnext"');
  });

  it("renders nested attribute sets and lists", () => {
    expect(nixValue({ microvm: { vcpu: 2, shares: [{ tag: "a", readOnly: false }] }, "x.y": null })).toBe(
      '{\n  microvm = {\n    vcpu = 2;\n    shares = [\n      {\n        tag = "a";\n        readOnly = false;\n      }\n    ];\n  };\n  "x.y" = null;\n}',
    );
  });

  it("parenthesises function applications inside lists", () => {
    expect(nixValue([raw("./a.nix"), raw("lib.mkForce 2")])).toBe("[\n  ./a.nix\n  (lib.mkForce 2)\n]");
  });
});
