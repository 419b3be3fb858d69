/**
 * User-mode networking through passt, one process per VM, instead of qemu's slirp: slirp maps the
 * gateway 10.0.2.2 to the host's loopback, so every guest could reach the node API, etcd and anything
 * else listening on 127.0.0.1. passt runs with `--no-map-gw`: the gateway is an ordinary address, and
 * the host's loopback is reachable only through the VM's explicit forwards (bound to 127.0.0.1, from
 * the host to the guest). The guest keeps slirp's addresses (10.0.2.15/24 via 10.0.2.2, DNS 10.0.2.3)
 * so existing images work unchanged. passt ends with qemu (`--one-off`) and is also killed by pid on
 * stop and by the watchdog.
 */
import type { VmSpec } from "../../core/vm-spec.js";

export const GUEST_ADDRESS = "10.0.2.15";
export const GUEST_PREFIX = 24;
export const GATEWAY = "10.0.2.2";
export const DNS_FORWARD = "10.0.2.3";

/** passt's port forwards: host 127.0.0.1:HOST to the guest's GUEST, per protocol. */
export function passtForwards(spec: Pick<VmSpec, "forwards">): string[] {
  return spec.forwards.flatMap((f) => [f.protocol === "udp" ? "-u" : "-t", `127.0.0.1/${f.host}:${f.guest}`]);
}

/** passt's argv (without the binary): foreground, quiet, one client, its socket in the state dir. */
export function passtArgs(spec: Pick<VmSpec, "forwards">, socket: string): string[] {
  return [
    "--foreground",
    "--quiet",
    "--one-off",
    ...["--socket", socket],
    ...["--address", GUEST_ADDRESS],
    ...["--netmask", String(GUEST_PREFIX)],
    ...["--gateway", GATEWAY],
    ...["--dns-forward", DNS_FORWARD],
    "--no-map-gw",
    // Without -t/-u passt forwards nothing: only the spec's forwards open a host port.
    ...passtForwards(spec),
  ];
}

/** qemu's side: a stream netdev connecting to passt's unix socket. */
export function passtNetdev(socket: string): string {
  return `stream,id=net0,server=off,addr.type=unix,addr.path=${socket.replaceAll(",", ",,")}`;
}
