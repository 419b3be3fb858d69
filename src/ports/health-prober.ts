/** Network probes for health checks, as a port so the simulator can answer them. */
export interface ProbeTarget {
  /** 127.0.0.1 (a port forwarded by user networking) or the VM's cluster address (bridge mode). */
  host: string;
  port: number;
}

export interface HealthProber {
  /** True when a TCP connection to the target is accepted and not dropped straight away. */
  tcp(target: ProbeTarget, timeoutMs: number): Promise<boolean>;
  /** True when GET http://host:port/path answers with a status below 400. */
  http(target: ProbeTarget, path: string, timeoutMs: number): Promise<boolean>;
}
