/**
 * Console health-check patterns on RE2 (re2js), a linear-time engine. A backtracking engine such as
 * JavaScript's RegExp takes exponential time on patterns like `(.|.)*QQQ`, and the pattern comes from a
 * user while the text comes from a guest: on the node's event loop that stalled the node, its lease
 * lapsed and the leader moved the VM on to stall the next node. RE2 has no backreferences or
 * lookarounds, so validation and matching use the same engine: a pattern is accepted only if the agent
 * can run it.
 */
import { RE2JS } from "re2js";

/** A compiled pattern: `test` is linear in the text's length, whatever the pattern. */
export interface ConsolePattern {
  test(text: string): boolean;
}

export const CONSOLE_PATTERN_SYNTAX =
  "RE2 syntax (https://github.com/google/re2/wiki/Syntax): no backreferences (\\1) and no lookarounds ((?=, (?!, (?<=, (?<!)";

/** Compiles `pattern` with `^`/`$` matching at line ends, as the agent reads the console by lines. */
export function compileConsolePattern(pattern: string): ConsolePattern {
  const re = RE2JS.compile(pattern, RE2JS.MULTILINE);
  return { test: (text) => re.matcher(text).find() };
}

/** Why `pattern` cannot be a console health check, or undefined when it can. */
export function consolePatternProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern, RE2JS.MULTILINE);
    return undefined;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return `must be a regular expression in ${CONSOLE_PATTERN_SYNTAX}; ${detail}`;
  }
}
