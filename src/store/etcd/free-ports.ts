/**
 * Free TCP ports on loopback, found by letting the kernel pick them. All sockets stay open until every
 * port is known, so one call never returns the same port twice; another process may still take a
 * port before it is used, which for test clusters on one machine is rare enough.
 */
import { createServer, type Server } from "node:net";

function listen(host: string, port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(host));
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("a TCP server has no port");
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

function isFree(port: number, host: string): Promise<boolean> {
  return listen(host, port).then(
    (server) => new Promise<boolean>((resolve) => server.close(() => resolve(true))),
    () => false,
  );
}

/** A port P such that P..P+span-1 are all free: a node with a managed etcd member uses API + 1 and + 2. */
export async function freePortRun(span: number, host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [port] = await freePorts(1, host);
    if (port === undefined || port + span > 65536) continue;
    const rest = await Promise.all(Array.from({ length: span - 1 }, (_, i) => isFree(port + i + 1, host)));
    if (rest.every(Boolean)) return port;
  }
  throw new Error(`found no ${span} consecutive free ports on ${host}`);
}
