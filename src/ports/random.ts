/** Randomness as a port, so a seed reproduces a simulation run. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Hex string of `bytes` random bytes, for ids and tokens. */
  hex(bytes: number): string;
}
