/**
 * Free TCP ports on loopback, found by letting the kernel pick them. All sockets stay open until every
 * port is known, so one call never returns the same port twice; another process may still take a
 * port before it is used, which for test clusters on one machine is rare enough.
 */
import { createServer, type Server } from "node:net";

function listen(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => resolve(server));
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
