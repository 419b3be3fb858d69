/**
 * Functions (issue 17), on one node with a real guest: a cold start through the gateway (a request to
 * a function with no instance, until its answer's first byte: a full boot, as no snapshot restore
 * exists yet) against a plain `vm create --start` of the same image to its first answer; then warm
 * requests through the gateway against requests straight to the same instance's forwarded port,
 * alternating, for the latency the gateway adds at p50; and warm requests per second through the
 * gateway with `concurrency` clients.
 */
import { request } from "node:http";
import { BenchNode, freePort, waitFor } from "./bench-node.js";

export interface FunctionFigures {
  coldMs: number[];
  bootMs: number[];
  gatewayMs: number[];
  directMs: number[];
  reqPerSec: number;
  clients: number;
}

/** Milliseconds until the answer's first byte; the status must be 200. */
function firstByte(
  port: number,
  path: string,
  agent?: import("node:http").Agent,
  timeoutMs = 300_000,
): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, timeout: timeoutMs }, (res) => {
      res.once("data", () => {
        const ms = performance.now() - t0;
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve(ms) : reject(new Error(`status ${res.statusCode}`)),
        );
      });
    });
    req.on("error", reject);
    // The forward accepts before the guest listens: a probe that hangs there is retried.
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

export async function measureFunctions(
  kernel: string,
  initrd: string,
  rounds: number,
  warm: number,
): Promise<FunctionFigures> {
  const gw = await freePort();
  const node = new BenchNode();
  const out: FunctionFigures = {
    coldMs: [],
    bootMs: [],
    gatewayMs: [],
    directMs: [],
    reqPerSec: 0,
    clients: 4,
  };
  try {
    await node.start(["--gateway-bind", `127.0.0.1:${gw}`]);
    const img = ["--kernel", kernel, "--initrd", initrd];
    for (let r = 0; r < rounds; r++) {
      // Cold: a new function (a new version would do too) has no instance until the request comes.
      node.cli("fn", "deploy", `cold${r}`, ...img, "--idle-timeout", "3600");
      out.coldMs.push(await firstByte(gw, `/fn/cold${r}/`));
      node.cli("fn", "delete", `cold${r}`);
      // Boot: the same image as a VM of its own, from the create to its first answer.
      const port = await freePort();
      const t0 = performance.now();
      node.cli("vm", "create", `boot${r}`, ...img, "--forward", `${port}:80`, "--start");
      // Probed every 250 ms, about as often as an instance's health check: probing a booting TCG guest
      // every few ms slows its boot.
      for (;;) {
        if (
          await firstByte(port, "/", undefined, 250).then(
            () => true,
            () => false,
          )
        )
          break;
        if (performance.now() - t0 > 300_000) throw new Error(`boot${r} did not answer`);
        await new Promise((r) => setTimeout(r, 250));
      }
      out.bootMs.push(performance.now() - t0);
      node.cli("vm", "delete", `boot${r}`);
    }
    node.cli(
      "fn",
      "deploy",
      "warm",
      ...img,
      "--min-instances",
      "1",
      "--concurrency",
      "64",
      "--idle-timeout",
      "3600",
    );
    await waitFor(
      "the warm instance",
      () =>
        firstByte(gw, "/fn/warm/").then(
          () => true,
          () => false,
        ),
      300_000,
    );
    const info = JSON.parse(node.cli("fn", "get", "warm", "-o", "json")) as { instances: { vm: string }[] };
    const vm = JSON.parse(node.cli("vm", "get", info.instances[0]!.vm, "-o", "json")) as {
      spec: { forwards: { host: number }[] };
    };
    const direct = vm.spec.forwards[0]!.host;
    const agent = new (await import("node:http")).Agent({ keepAlive: true });
    for (let i = 0; i < warm; i++) {
      // Alternating, so that the guest's own drift (TCG) falls on both sides alike.
      out.gatewayMs.push(await firstByte(gw, "/fn/warm/", agent));
      out.directMs.push(await firstByte(direct, "/", agent));
    }
    const until = performance.now() + 5000;
    let done = 0;
    await Promise.all(
      Array.from({ length: out.clients }, async () => {
        while (performance.now() < until) {
          await firstByte(gw, "/fn/warm/", agent);
          done++;
        }
      }),
    );
    out.reqPerSec = done / 5;
    agent.destroy();
    return out;
  } finally {
    await node.stop();
  }
}
