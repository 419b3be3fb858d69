/**
 * The gateway's pure decisions: which function a request is for (`/fn/NAME/...` or the Host
 * `NAME.<cluster domain>`), and which instance gets it. Least loaded first (the gateway's own count
 * of requests in flight), then this node's own instances (no hop), then the lowest index, so that
 * light traffic packs onto few instances and the others go idle and stop. An instance already at its
 * concurrency gets no more while the pool may still grow: the request waits, and its wait is what
 * makes the pool controller add an instance.
 */
import { nameProblem } from "./names.js";

export interface FunctionTarget {
  fn: string;
  /** The path (and query) the instance receives: what follows `/fn/NAME`, or the whole path. */
  path: string;
}

/** The function a request is for, or undefined when the request names none. */
export function routeOf(
  url: string,
  host: string | undefined,
  domain: string | undefined,
): FunctionTarget | undefined {
  const m = /^\/fn\/([^/?#]+)(.*)$/.exec(url);
  if (m) {
    const fn = m[1]!;
    if (nameProblem(fn) !== undefined) return undefined;
    const rest = m[2] ?? "";
    return { fn, path: rest === "" || rest.startsWith("?") ? `/${rest}` : rest };
  }
  if (host === undefined || domain === undefined || domain === "") return undefined;
  const hostname = host.replace(/:\d+$/, "").toLowerCase().replace(/\.$/, "");
  const suffix = `.${domain.toLowerCase().replace(/\.$/, "")}`;
  if (!hostname.endsWith(suffix)) return undefined;
  const fn = hostname.slice(0, -suffix.length);
  if (fn.includes(".") || nameProblem(fn) !== undefined) return undefined;
  return { fn, path: url.startsWith("/") ? url : `/${url}` };
}

export interface RoutableInstance {
  name: string;
  index: number;
  node: string;
}

/**
 * The instance for the next request, or undefined to hold it: none is ready, or every ready one is
 * at `concurrency` while the pool is below `maxInstances`.
 */
export function pickInstance(
  ready: readonly RoutableInstance[],
  inFlight: (name: string) => number,
  opts: { localNode: string; concurrency: number; canGrow: boolean },
): RoutableInstance | undefined {
  let best: RoutableInstance | undefined;
  for (const i of ready) {
    if (!best) {
      best = i;
      continue;
    }
    const a = inFlight(i.name);
    const b = inFlight(best.name);
    if (a !== b) {
      if (a < b) best = i;
      continue;
    }
    const localA = i.node === opts.localNode;
    const localB = best.node === opts.localNode;
    if (localA !== localB) {
      if (localA) best = i;
      continue;
    }
    if (i.index < best.index) best = i;
  }
  if (best && opts.canGrow && inFlight(best.name) >= opts.concurrency) return undefined;
  return best;
}
