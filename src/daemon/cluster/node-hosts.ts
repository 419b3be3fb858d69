/**
 * The names and addresses a node's certificate covers: its advertise host, its bind address unless a
 * wildcard, and the addresses of its interfaces (other nodes or the CLI may reach it on any of them).
 */
import { networkInterfaces } from "node:os";
import { advertisedHost, type NodeOptions } from "../node-options.js";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

export function nodeHosts(options: NodeOptions): string[] {
  const hosts = [advertisedHost(options), options.bind.host].filter((h) => !WILDCARDS.has(h));
  for (const list of Object.values(networkInterfaces())) {
    for (const address of list ?? []) {
      if (!address.address.startsWith("fe80:")) hosts.push(address.address);
    }
  }
  return [...new Set(hosts.map((h) => h.replace(/^\[|\]$/g, "")))];
}
