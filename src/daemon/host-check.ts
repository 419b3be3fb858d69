/**
 * DNS rebinding and browser defences. A web page can make a browser send requests to
 * 127.0.0.1:<api> under its own domain name (DNS rebinding), or post to it cross-origin; both carry a
 * Host or Origin that is not one of this node's own names. Requests must name the node by one of its
 * addresses or hostnames, and browsers may only call it from its own origin.
 */
import type { IncomingHttpHeaders } from "node:http";
import { hostname, networkInterfaces } from "node:os";

export interface HostCheckOptions {
  bindHost: string;
  advertiseHost: string;
  /** Extra names the node answers to (for tests and, later, certificate SANs). */
  extra?: readonly string[];
  /** For tests: the machine's hostname and interface addresses. */
  machine?: () => { hostname: string; addresses: string[] };
}

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);
const RELOAD_MS = 10_000;

export interface HostCheck {
  /** Why the request must be refused, with the status to refuse it with; undefined to serve it. */
  problem(headers: IncomingHttpHeaders): { status: 403 | 421; message: string } | undefined;
}

export function createHostCheck(options: HostCheckOptions): HostCheck {
  const machine = options.machine ?? osMachine;
  const wildcard = WILDCARDS.has(options.bindHost);
  let names = new Set<string>();
  let loadedAt = -Infinity;
  const load = () => {
    const m = machine();
    names = new Set(
      [
        "localhost",
        "127.0.0.1",
        "::1",
        m.hostname,
        options.advertiseHost,
        ...(wildcard ? m.addresses : [options.bindHost]),
        ...(options.extra ?? []),
      ].map((n) => n.toLowerCase()),
    );
    loadedAt = performance.now();
  };
  load();
  // Interfaces come and go (a VPN comes up after the node): an unknown name reloads, at most every 10 s.
  const known = (name: string) => {
    if (names.has(name)) return true;
    if (wildcard && performance.now() - loadedAt > RELOAD_MS) load();
    return names.has(name);
  };
  return {
    problem(headers) {
      const host = headers.host ?? (headers[":authority"] as string | undefined);
      const name = host === undefined ? undefined : hostName(host);
      if (name === undefined || !known(name)) {
        return {
          status: 421,
          message: `misdirected request: Host ${JSON.stringify(host ?? "")} is not a name of this node; call it by its address or hostname (DNS rebinding protection)\n`,
        };
      }
      const site = headers["sec-fetch-site"];
      if (site === "cross-site") {
        return { status: 403, message: "forbidden: cross-site browser requests are refused\n" };
      }
      const origin = headers.origin;
      if (origin !== undefined) {
        let originName: string | undefined;
        try {
          originName = hostName(new URL(origin).host);
        } catch {}
        if (originName === undefined || !known(originName)) {
          return {
            status: 403,
            message: `forbidden: requests from the web origin ${JSON.stringify(origin)} are refused (cross-origin)\n`,
          };
        }
      }
      return undefined;
    },
  };
}

/** `name`, `name:port`, `[v6]` or `[v6]:port` → the lower-case name; undefined when malformed. */
export function hostName(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    return rest === "" || /^:\d{1,5}$/.test(rest) ? h.slice(1, end) : undefined;
  }
  const m = /^([a-z0-9.-]+)(:\d{1,5})?$/.exec(h);
  return m ? m[1] : undefined;
}

function osMachine(): { hostname: string; addresses: string[] } {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .flatMap((a) => (a ? [a.address.split("%")[0]!] : []));
  return { hostname: hostname(), addresses };
}
