/**
 * Test support: `VmDriver.streamLogs` for the in-memory drivers (the fake and the simulator's), which
 * hold a VM's whole log anyway: their `logs` tail, cut into chunks of at most `chunkBytes` characters.
 */
import type { LogStream, LogTail } from "../ports/vm-driver.js";

export function inMemoryLogStream(logs: () => Promise<LogTail>, chunkBytes: number): LogStream {
  let offset = 0;
  async function* chunks(): AsyncGenerator<string> {
    const all = await logs();
    offset = all.offset;
    for (let i = 0; i < all.text.length; i += chunkBytes) yield all.text.slice(i, i + chunkBytes);
  }
  return { chunks: chunks(), offset: () => offset };
}
