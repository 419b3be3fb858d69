/** The two lease calls that need more than one request: granting with an id of our own, and one keep-alive. */
import { castGrpcError, type Etcd3, GRPCUnavailableError } from "etcd3";
import { errorMessage } from "../../core/errors.js";
import type { Lease } from "../../ports/store.js";
import { toNumber } from "./etcd-convert.js";
import { type CallOptions, endStream } from "./etcd-endpoints.js";
import { randomLeaseId } from "./lease-ids.js";

/** Grants a lease under a fresh random id (see lease-ids.ts), drawing again if etcd already has it. */
export async function grantWithOwnId(
  client: Etcd3,
  ttlSeconds: number,
  options: CallOptions,
): Promise<Lease> {
  for (let draw = 1; ; draw++) {
    const id = randomLeaseId();
    try {
      const response = await client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: id }, options);
      return { id, ttlSeconds: toNumber(response.TTL, "the granted TTL") };
    } catch (err) {
      if (draw < 3 && errorMessage(err).includes("lease already exists")) continue;
      throw err;
    }
  }
}

/** Sends one keep-alive and returns the TTL etcd answers with; 0 or less means the lease is gone. */
export async function keepAliveOnce(client: Etcd3, leaseId: number, options: CallOptions): Promise<number> {
  const stream = await client.leaseClient.leaseKeepAlive(options);
  return new Promise((resolve, reject) => {
    let answered = false;
    stream.on("data", (response) => {
      answered = true;
      resolve(Number(response.TTL));
      endStream(stream);
    });
    // Registered for the whole life of the stream: cancelling it above emits an error too.
    stream.on("error", (err) => {
      if (!answered) reject(castGrpcError(err));
    });
    stream.on("end", () => {
      if (!answered) reject(new GRPCUnavailableError("etcd closed the keep-alive stream without answering"));
    });
    stream.write({ ID: leaseId });
  });
}
