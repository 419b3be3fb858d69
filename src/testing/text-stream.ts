/** A LogSource stream over fixed chunks, for tests of what serves or relays console logs. */
export function textStream(chunks: readonly string[], offset: number) {
  async function* each(): AsyncGenerator<string> {
    for (const chunk of chunks) yield chunk;
  }
  return { chunks: each(), offset: () => offset };
}
