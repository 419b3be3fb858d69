/**
 * A Logger for `npm run sim -- --verbose`: every log line of the production services, stamped with the
 * virtual time and the node, written to a sink (stdout). Off by default: silent runs are faster and
 * their trace, and so its hash, never depends on log lines.
 */
import type { Clock } from "../ports/clock.js";
import type { LogFields, Logger } from "../ports/logger.js";

export type LogSink = (line: string) => void;

export function traceLogger(sink: LogSink, clock: Clock, epoch: number, bindings: LogFields = {}): Logger {
  const write = (level: string) => (fields: LogFields, msg: string) => {
    const { node, component, ...bound } = bindings;
    const rest = { ...bound, ...fields };
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
    const who = [node, component].filter((p) => p !== undefined).join("/");
    sink(`t=${((clock.now() - epoch) / 1000).toFixed(1)}s   [${who}] ${level} ${msg}${extra}`);
  };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (more) => traceLogger(sink, clock, epoch, { ...bindings, ...more }),
  };
}
