/**
 * Serves VM console logs from whichever node runs the VM: the local driver for this node's VMs, the
 * owner's VmService (Connect over HTTP/1.1) for the others: over mutual TLS with this node's certificate
 * when the cluster has a PKI (the owner's certificate must chain to the cluster CA, so a store writer
 * who points a node's apiUrl elsewhere gets no connection), else with the bearer token.
 *
 * `stream` asks the owner for the lines with FollowVmLogs stop_at_end and passes each chunk on as it
 * comes. The remote API returns text but no byte offset, so for a remote VM the offset is opaque:
 * `stream` reports the byte length of the text it passed on, which only tells `follow` whether the
 * caller already has part of the log. `follow` from 0 streams the remote log from its start
 * (FollowVmLogs tail=0 means "all", the same as following a local log from byte 0). From any other
 * offset it asks for the last line (tail=1) and drops that first message, so VmService.followVmLogs,
 * which sends the stream and then `follow`, does not send the tail twice. Output written in the few milliseconds between the two
 * remote calls is not shown; a remote offset would close that window.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { LogSource } from "../api/vm-service.js";
import { BlixardError, type ErrorCode } from "../core/errors.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";

export interface RoutedLogSourceOptions {
  /** This node. */
  nodeId: string;
  /** The driver-backed source for this node's VMs. */
  local: LogSource;
  /** The node a VM is assigned to. */
  ownerOf(name: string): Promise<string>;
  /** A node's registered API URL; undefined when it has none. */
  apiUrlOf(node: string): Promise<string | undefined>;
  /** Bearer token sent to other nodes when there is no PKI (never over a TLS connection). */
  token: string | undefined;
  /** The cluster CA and this node's certificate: node-to-node calls use mutual TLS. */
  tls?: { caPem: string; certPem: string; keyPem: string };
}

/** How long a remote stream may stay silent before the owner counts as unreachable. */
const TAIL_TIMEOUT_MS = 15_000;

export function routedLogSource(options: RoutedLogSourceOptions): LogSource {
  // One agent for every call to other nodes: their TLS connections are kept and reused.
  const agent = options.tls ? nodeHttpsAgent(options.tls) : undefined;
  async function remote(name: string): Promise<Remote | undefined> {
    const node = await options.ownerOf(name);
    if (node === options.nodeId) return undefined;
    const url = await options.apiUrlOf(node);
    if (!url) {
      throw new BlixardError(
        "UNAVAILABLE",
        `VM "${name}" runs on node "${node}", which has no registered API URL; the node may be down ` +
          "(`blixard node list` shows NotReady nodes)",
      );
    }
    const tls = options.tls;
    if (tls && !url.startsWith("https://")) {
      throw new BlixardError(
        "UNAVAILABLE",
        `node "${node}" registered a plain-HTTP API URL (${url}); nodes of a cluster serve TLS, so this ` +
          "record was not written by a cluster node. Restart that node to re-register it",
      );
    }
    const bearer: Interceptor = (next) => (req) => {
      if (options.token && !tls) req.header.set("authorization", `Bearer ${options.token}`);
      return next(req);
    };
    const transport = createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      interceptors: [bearer],
      ...(agent ? { nodeOptions: { agent } } : {}),
    });
    return { node, url, client: createClient(VmService, transport) };
  }

  return {
    stream(name, lines) {
      let local: ReturnType<LogSource["stream"]> | undefined;
      let remoteBytes = 0;
      async function* chunks(): AsyncGenerator<string> {
        const r = await remote(name);
        if (!r) {
          local = options.local.stream(name, lines);
          yield* local.chunks;
          return;
        }
        // The owner streams its log a chunk at a time and ends; each chunk is passed on as it comes.
        // An owner that sends nothing for TAIL_TIMEOUT_MS counts as unreachable.
        const idle = new AbortController();
        let timer = setTimeout(() => idle.abort(), TAIL_TIMEOUT_MS);
        try {
          const request = { name, tail: lines, stopAtEnd: true };
          for await (const { text } of r.client.followVmLogs(request, { signal: idle.signal })) {
            clearTimeout(timer);
            remoteBytes += Buffer.byteLength(text);
            yield text;
            timer = setTimeout(() => idle.abort(), TAIL_TIMEOUT_MS);
          }
        } catch (err) {
          throw fromRemote(idle.signal.aborted ? idleError(r) : err, r);
        } finally {
          clearTimeout(timer);
          idle.abort();
        }
      }
      return { chunks: chunks(), offset: () => (local ? local.offset() : remoteBytes) };
    },

    async *follow(name, offset, signal) {
      const r = await remote(name);
      if (!r) {
        yield* options.local.follow(name, offset, signal);
        return;
      }
      let skip = offset > 0;
      try {
        for await (const { text } of r.client.followVmLogs({ name, tail: skip ? 1 : 0 }, { signal })) {
          if (skip) skip = false;
          else yield text;
        }
      } catch (err) {
        if (signal.aborted) return;
        throw fromRemote(err, r);
      }
    },
  };
}

interface Remote {
  node: string;
  url: string;
  client: ReturnType<typeof createClient<typeof VmService>>;
}

/** The inverse of api/error-mapping.ts; codes it never produces become INTERNAL. */
const FROM_CONNECT: Partial<Record<Code, ErrorCode>> = {
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "CONFLICT",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.OutOfRange]: "COMPACTED",
};

function idleError(r: Remote): ConnectError {
  return new ConnectError(
    `node "${r.node}" sent nothing for ${TAIL_TIMEOUT_MS / 1000} s`,
    Code.DeadlineExceeded,
  );
}

function fromRemote(err: unknown, r: Remote): BlixardError {
  const e = ConnectError.from(err);
  if (e.code === Code.Unavailable || e.code === Code.DeadlineExceeded) {
    return new BlixardError(
      "UNAVAILABLE",
      `cannot get logs from node "${r.node}" at ${r.url}: ${e.rawMessage}; the node may be down ` +
        "(`blixard node list` shows NotReady nodes)",
      { cause: err },
    );
  }
  return new BlixardError(FROM_CONNECT[e.code] ?? "INTERNAL", e.rawMessage, { cause: err });
}
