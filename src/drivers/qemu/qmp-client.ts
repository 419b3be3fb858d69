/**
 * A minimal QMP (QEMU Machine Protocol) client over the VM's unix socket: enough to ask for status,
 * send keys and quit. QMP is line-delimited JSON: a greeting, then `qmp_capabilities` to leave
 * negotiation mode, then commands whose replies carry the `id` we sent. Asynchronous events are
 * interleaved with replies and ignored here.
 *
 * qemu serves one QMP client at a time on a socket; others wait in the backlog. So connections are
 * meant to be short-lived: connect, run a command or two, close.
 */
import net from "node:net";
import { BlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";

export interface QmpConnectOptions {
  clock: Clock;
  /** Budget for connecting, reading the greeting and negotiating capabilities. */
  timeoutMs: number;
  /** Default per-command timeout. */
  commandTimeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  cancelTimer: () => void;
}

type QmpMessage = {
  QMP?: unknown;
  id?: unknown;
  return?: unknown;
  error?: { class?: string; desc?: string };
  event?: string;
};

export class QmpClient {
  private buffer = "";
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private greeting: ((err?: Error) => void) | undefined;
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly clock: Clock,
    private readonly socketPath: string,
    private readonly commandTimeoutMs: number,
  ) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", (err) => this.fail(unavailable(socketPath, err.message, err)));
    socket.on("close", () => this.fail(unavailable(socketPath, "connection closed")));
  }

  /** Connects, waits for the greeting and negotiates capabilities, all within `timeoutMs`. */
  static async connect(socketPath: string, options: QmpConnectOptions): Promise<QmpClient> {
    const socket = net.createConnection({ path: socketPath });
    const client = new QmpClient(socket, options.clock, socketPath, options.commandTimeoutMs ?? 5_000);
    const ready = new Promise<void>((resolve, reject) => {
      client.greeting = (err) => (err ? reject(err) : resolve());
    });
    const timer = options.clock.setTimeout(() => {
      client.fail(
        new BlixardError(
          "DEADLINE_EXCEEDED",
          `QMP at ${socketPath} did not greet within ${options.timeoutMs} ms (is another client connected?)`,
        ),
      );
    }, options.timeoutMs);
    try {
      await ready;
      await client.execute("qmp_capabilities", undefined, options.timeoutMs);
      return client;
    } catch (err) {
      client.close();
      throw err;
    } finally {
      timer.cancel();
    }
  }

  /** Runs a command and resolves with its `return` value; QMP errors reject with their description. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = `blixard-${this.nextId++}`;
    const budget = timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new BlixardError("DEADLINE_EXCEEDED", `QMP ${command} got no reply within ${budget} ms`));
      }, budget);
      this.pending.set(id, {
        command,
        resolve: resolve as (value: unknown) => void,
        reject,
        cancelTimer: () => timer.cancel(),
      });
      const message =
        args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  close(): void {
    this.fail(unavailable(this.socketPath, "client closed"));
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== "") this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let message: QmpMessage;
    try {
      message = JSON.parse(line) as QmpMessage;
    } catch {
      this.fail(unavailable(this.socketPath, `unparseable QMP message: ${line.slice(0, 200)}`));
      this.socket.destroy();
      return;
    }
    if (message.QMP !== undefined) {
      this.greeting?.();
      this.greeting = undefined;
      return;
    }
    if (message.event !== undefined || typeof message.id !== "string") return;
    const call = this.pending.get(message.id);
    if (!call) return;
    this.pending.delete(message.id);
    call.cancelTimer();
    if (message.error) {
      const cls = message.error.class ?? "GenericError";
      call.reject(
        new BlixardError(
          "DRIVER_FAILED",
          `QMP ${call.command} failed: ${message.error.desc ?? cls} (${cls})`,
        ),
      );
    } else {
      call.resolve(message.return);
    }
  }

  /** Fails the greeting and every pending call once; later calls reject with the same error. */
  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    this.greeting?.(err);
    this.greeting = undefined;
    for (const call of this.pending.values()) {
      call.cancelTimer();
      call.reject(err);
    }
    this.pending.clear();
  }
}

function unavailable(socketPath: string, why: string, cause?: unknown): BlixardError {
  return new BlixardError("UNAVAILABLE", `QMP at ${socketPath}: ${why}`, { cause });
}

/** Connects, runs one command and closes: the usual way to talk to a VM. */
export async function qmpOnce<T = unknown>(
  socketPath: string,
  command: string,
  args: Record<string, unknown> | undefined,
  options: QmpConnectOptions,
): Promise<T> {
  const client = await QmpClient.connect(socketPath, options);
  try {
    return await client.execute<T>(command, args);
  } finally {
    client.close();
  }
}
