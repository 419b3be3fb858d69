/**
 * Host checks on a spec's port forwards: the host port must not be one of the node's own (its API,
 * its managed etcd member's client and peer ports), and must be free on this node when the VM is
 * admitted. The attack: a VM that forwards the node's API or etcd port would take it over as soon as
 * the node restarts (or answer in its place to whoever connects), and one that forwards a port another
 * service holds fails only later, at start, with a less clear error. Ports below 1024 are refused by
 * the spec schema already.
 */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import type { FieldViolation } from "../core/errors.js";
import type { VmSpec } from "../core/vm-spec.js";

/** A port the node itself uses, and what for (the error says so). */
export interface ReservedPort {
  port: number;
  what: string;
}

/** The address the qemu driver binds forwards on; a listener on the wildcard conflicts with it too. */
const FORWARD_HOST = "127.0.0.1";

export function forwardAdmission(
  reserved: () => readonly ReservedPort[],
): (spec: VmSpec) => Promise<FieldViolation[]> {
  return async (spec) => {
    const violations: FieldViolation[] = [];
    const own = reserved();
    for (const [i, forward] of spec.forwards.entries()) {
      const field = `spec.forwards.${i}.host`;
      const mine = own.find((r) => r.port === forward.host);
      if (mine) {
        violations.push({
          field,
          message: `port ${forward.host} is this node's ${mine.what}; forward another host port, e.g. ${suggestion(forward.host)}`,
        });
        continue;
      }
      if (!(await portFree(forward.protocol, forward.host))) {
        violations.push({
          field,
          message: `${forward.protocol} port ${forward.host} is already in use on this node; pick a free one (see ss -ltnu)`,
        });
      }
    }
    return violations;
  };
}

function suggestion(port: number): number {
  return port < 65000 ? port + 1000 : 8080;
}

/** Whether the port can be bound now; released at once, so the VM can bind it when it starts. */
function portFree(protocol: "tcp" | "udp", port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === "udp") {
      const socket = createSocket("udp4");
      socket.once("error", () => resolve(false));
      socket.bind(port, FORWARD_HOST, () => socket.close(() => resolve(true)));
      return;
    }
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: FORWARD_HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
