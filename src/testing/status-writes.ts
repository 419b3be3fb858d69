/**
 * Test support: the value of the `i`th write of a status-update soak, as a VM whose health check
 * keeps reporting writes it: a realistic VM status (about 250 bytes), different at every write.
 */
export function soakStatus(i: number, keys: number): string {
  return JSON.stringify({
    phase: "Running",
    node: "node-3f2a9c1d",
    pid: 100_000 + i,
    restarts: i % 7,
    message: `health check passed at attempt ${i}`,
    observedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    ports: [{ guest: 80, host: 18_080 + (i % keys) }],
  });
}
