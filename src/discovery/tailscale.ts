/**
 * Tailscale discovery: `tailscale status --json` lists the tailnet's peers; the online ones carrying the
 * Blixard tag are the candidates a new node tries to join through. Only the fields we use are read, so
 * new fields in Tailscale's output never break us.
 */
import { execFile } from "node:child_process";
import { z } from "zod";
import { BlixardError } from "../core/errors.js";

const peerSchema = z.object({
  HostName: z.string(),
  DNSName: z.string().optional(),
  TailscaleIPs: z.array(z.string()).nullish(),
  Online: z.boolean().optional(),
  Tags: z.array(z.string()).nullish(),
});

const statusSchema = z.object({
  BackendState: z.string(),
  Health: z.array(z.string()).nullish(),
  Self: peerSchema.nullish(),
  Peer: z.record(z.string(), peerSchema).nullish(),
});

export type TailscaleStatus = z.infer<typeof statusSchema>;

export interface JoinCandidate {
  hostName: string;
  /** The peer's Blixard API URL (https: cluster nodes serve TLS) on its first Tailscale IPv4 address (IPv6 when it has none). */
  url: string;
}

export const DEFAULT_TAG = "tag:blixard";

export function parseTailscaleStatus(json: string): TailscaleStatus {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `tailscale status --json printed invalid JSON: ${String(err)}`,
    );
  }
  const result = statusSchema.safeParse(raw);
  if (!result.success) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `tailscale status --json printed an unexpected shape (${result.error.issues[0]?.message}); is this Tailscale too old?`,
    );
  }
  return result.data;
}

/** Online peers with `tag`, sorted by host name, as API URLs on `port`. Never includes this host. */
export function joinCandidates(
  status: TailscaleStatus,
  options: { tag?: string; port: number },
): JoinCandidate[] {
  if (status.BackendState !== "Running") {
    const why = status.Health?.length ? `: ${status.Health.join("; ")}` : "";
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `tailscale is not connected (state ${status.BackendState}${why}); run \`tailscale up\` or join with --join ADDR`,
    );
  }
  const tag = options.tag ?? DEFAULT_TAG;
  return Object.values(status.Peer ?? {})
    .filter((peer) => peer.Online === true && (peer.Tags ?? []).includes(tag))
    .flatMap((peer) => {
      const ips = peer.TailscaleIPs ?? [];
      const ip = ips.find((a) => a.includes(".")) ?? ips[0];
      if (!ip) return [];
      const host = ip.includes(":") ? `[${ip}]` : ip;
      return [{ hostName: peer.HostName, url: `https://${host}:${options.port}` }];
    })
    .sort((a, b) => a.hostName.localeCompare(b.hostName));
}

/** Runs `tailscale status --json`; a missing binary or a failing daemon becomes an error that says what to do. */
export function readTailscaleStatus(binary = "tailscale", timeoutMs = 10_000): Promise<TailscaleStatus> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ["status", "--json"],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") {
            return reject(
              new BlixardError(
                "FAILED_PRECONDITION",
                `--discover tailscale needs the tailscale CLI, but "${binary}" is not installed or not on PATH; install Tailscale or join with --join ADDR`,
              ),
            );
          }
          const detail = String(stderr).trim() || err.message;
          return reject(
            new BlixardError("FAILED_PRECONDITION", `tailscale status --json failed: ${detail}`, {
              cause: err,
            }),
          );
        }
        try {
          resolve(parseTailscaleStatus(String(stdout)));
        } catch (parseErr) {
          reject(parseErr);
        }
      },
    );
  });
}
