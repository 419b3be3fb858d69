/** The production Logger: pino, JSON lines to stderr (or a file), with a component tag per child. */
import { destination, type Logger as PinoLogger, pino } from "pino";
import type { LogFields, Logger } from "../ports/logger.js";

function wrap(p: PinoLogger): Logger {
  return {
    debug: (fields: LogFields, msg: string) => p.debug(fields, msg),
    info: (fields: LogFields, msg: string) => p.info(fields, msg),
    warn: (fields: LogFields, msg: string) => p.warn(fields, msg),
    error: (fields: LogFields, msg: string) => p.error(fields, msg),
    child: (bindings: LogFields) => wrap(p.child(bindings)),
  };
}

export function createPinoLogger(options: { level?: string; destination?: string } = {}): Logger {
  const dest = options.destination ? destination({ dest: options.destination, sync: false }) : destination(2);
  return wrap(pino({ level: options.level ?? "info", base: { pid: process.pid } }, dest));
}
