import { describe, expect, it } from "vitest";
import { compileConsolePattern, consolePatternProblem } from "./console-pattern.js";
import { parseVmSpec } from "./vm-spec.js";

describe("console health patterns (RE2)", () => {
  // The attack: patterns that take a backtracking engine exponential time in the line's length (28
  // characters of `(.|.)*QQQ` stalled a node's event loop for 3.9 s, doubling per character). On RE2 each
  // runs over 100 KB of guest output and returns; with backtracking none of these would finish.
  it.each([
    ["(.|.)*QQQ", "a".repeat(100_000)],
    ["(a|a)*b", "a".repeat(100_000)],
    ["(x+x+)+y", "x".repeat(100_000)],
    ["^(([a-z])+.)+[A-Z]([a-z])+$", `${"aaaaaaaaaa".repeat(10_000)}!`],
  ])("runs the hostile pattern %s over 100 KB without backtracking", (pattern, text) => {
    const compiled = compileConsolePattern(pattern);
    expect(compiled.test(text)).toBe(false);
    expect(compiled.test(`${text}\nQQQ b y Ab\n`)).toBe(pattern === "(.|.)*QQQ" || pattern === "(a|a)*b");
  });

  it("matches per line: ^ and $ anchor at line breaks of the console", () => {
    const ready = compileConsolePattern("^blixard-guest-ready$");
    expect(ready.test("booting\nblixard-guest-ready\nmore")).toBe(true);
    expect(ready.test("booting blixard-guest-ready")).toBe(false);
  });

  it.each([
    ["(a)\\1", /backreferences/],
    ["(?=ready)", /lookarounds/],
    ["(?<!not )ready", /lookarounds/],
    ["[", /missing closing \]/],
  ])("refuses %s, naming the RE2 syntax it must follow", (pattern, why) => {
    expect(consolePatternProblem(pattern)).toMatch(/RE2 syntax/);
    expect(consolePatternProblem(pattern)).toMatch(why);
    expect(() =>
      parseVmSpec({ name: "web", kernel: "/k", healthCheck: { type: "console", pattern } }),
    ).toThrow(/spec\.healthCheck\.pattern: must be a regular expression in RE2 syntax/);
  });

  it("accepts what the agent can run", () => {
    expect(consolePatternProblem("login: $|ready \\d+")).toBeUndefined();
  });
});
