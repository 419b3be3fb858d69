import { describe, expect, it } from "vitest";
import { consoleOutput, TerminalSanitizer } from "./terminal-safe.js";

const clean = (...chunks: string[]) => {
  const s = new TerminalSanitizer();
  return chunks.map((c) => s.write(c)).join("");
};

describe("TerminalSanitizer", () => {
  // The attacks: a guest printing sequences that retitle the user's window, clear and rewrite the
  // screen, or hide lines, into the terminal of whoever runs `vm logs`.
  it("drops an OSC that retitles the window, ended by BEL or by ST", () => {
    expect(clean("a\x1b]0;you have been pwned\x07b\n")).toBe("ab\n");
    expect(clean("a\x1b]2;title\x1b\\b\n")).toBe("ab\n");
    expect(clean("a\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\\n")).toBe("alink\n");
  });

  it("drops cursor movement, screen clearing and colours (CSI), 7-bit and 8-bit", () => {
    expect(clean("ok\x1b[2J\x1b[H\x1b[1;31mred\x1b[0m\x1b[?25l\n")).toBe("okred\n");
    expect(clean("x\u009b2Jy\n")).toBe("xy\n");
  });

  it("drops DCS and other string sequences, and two-character escapes", () => {
    expect(clean("a\x1bP+q544e\x1b\\b\x1bcc\x1b(Bd\n")).toBe("abcd\n");
  });

  it("drops carriage returns, backspaces and other controls that hide text, keeping newlines and tabs", () => {
    expect(clean("rm -rf /\rls      \n")).toBe("rm -rf /ls      \n");
    expect(clean("safe\b\b\b\bevil\x00\x07\x7f\tend\r\n")).toBe("safeevil\tend\n");
  });

  it("handles a sequence split across followed chunks", () => {
    expect(clean("a\x1b", "]0;ti", "tle\x07", "b\x1b[", "31", "mc\n")).toBe("abc\n");
  });

  it("keeps ordinary text, including non-ASCII", () => {
    expect(clean("Debian GNU/Linux — démarré ✓\n")).toBe("Debian GNU/Linux — démarré ✓\n");
  });

  it("lets output show again after an unterminated string sequence", () => {
    const out = clean(`\x1b]0;${"x".repeat(10_000)}`, "visible\n");
    expect(out.endsWith("visible\n")).toBe(true);
    expect(out.length).toBeLessThan(10_000);
  });
});

describe("consoleOutput", () => {
  it("sanitizes only on a terminal, and not with --raw", () => {
    const attack = "\x1b]0;pwned\x07hi\n";
    expect(consoleOutput({ tty: true, raw: false })(attack)).toBe("hi\n");
    expect(consoleOutput({ tty: true, raw: true })(attack)).toBe(attack);
    expect(consoleOutput({ tty: false, raw: false })(attack)).toBe(attack);
  });
});
