/** Network probes for health checks, as a port so the simulator can answer them. */
export interface HealthProber {
  /** True when a TCP connection to 127.0.0.1:port is accepted and not dropped straight away. */
  tcp(port: number, timeoutMs: number): Promise<boolean>;
  /** True when GET http://127.0.0.1:port/path answers with a status below 400. */
  http(port: number, path: string, timeoutMs: number): Promise<boolean>;
}
