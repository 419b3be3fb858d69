/** Serves VM console logs to the API from the local driver. */
import type { LogSource } from "../api/vm-service.js";
import type { VmDriver } from "../ports/vm-driver.js";

export function driverLogSource(driver: VmDriver): LogSource {
  return {
    stream: (name, lines) => driver.streamLogs(name, lines === 0 ? undefined : lines),
    follow: (name, offset, signal) => driver.followLogs(name, offset, signal),
  };
}
