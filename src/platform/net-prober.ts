/**
 * Health probes over loopback (user networking's forwarded ports) or to a VM's cluster address (bridge
 * mode). A TCP check must see the connection survive briefly: qemu's user networking accepts on the
 * host port even when nothing listens in the guest, then drops the connection.
 */
import { request } from "node:http";
import { connect } from "node:net";
import type { HealthProber } from "../ports/health-prober.js";

const TCP_SETTLE_MS = 150;

export const netProber: HealthProber = {
  tcp({ host, port }, timeoutMs) {
    return new Promise((resolve) => {
      const socket = connect({ host, port });
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      socket.once("connect", () =>
        setTimeout(() => done(!socket.destroyed && socket.readyState === "open"), TCP_SETTLE_MS),
      );
      socket.once("data", () => done(true));
      socket.once("close", () => done(false));
      socket.once("error", () => done(false));
    });
  },

  http({ host, port }, path, timeoutMs) {
    return new Promise((resolve) => {
      const req = request({ host, port, path, method: "GET", timeout: timeoutMs }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      });
      req.once("timeout", () => req.destroy());
      req.once("error", () => resolve(false));
      req.end();
    });
  },
};
