/** The one place where BlixardError codes become RPC status codes. */
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorCode, errorMessage, isBlixardError } from "../core/errors.js";

const TO_CONNECT: Record<ErrorCode, Code> = {
  INVALID_ARGUMENT: Code.InvalidArgument,
  NOT_FOUND: Code.NotFound,
  ALREADY_EXISTS: Code.AlreadyExists,
  FAILED_PRECONDITION: Code.FailedPrecondition,
  CONFLICT: Code.Aborted,
  UNAUTHENTICATED: Code.Unauthenticated,
  PERMISSION_DENIED: Code.PermissionDenied,
  UNAVAILABLE: Code.Unavailable,
  DEADLINE_EXCEEDED: Code.DeadlineExceeded,
  COMPACTED: Code.OutOfRange,
  LEASE_NOT_FOUND: Code.NotFound,
  DRIVER_FAILED: Code.Internal,
  INTERNAL: Code.Internal,
};

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (isBlixardError(err))
    return new ConnectError(err.message, TO_CONNECT[err.code], undefined, undefined, err);
  return new ConnectError(`internal error: ${errorMessage(err)}`, Code.Internal, undefined, undefined, err);
}

type AnyFn = (...args: never[]) => unknown;

/**
 * Wraps every handler of a service so that any error leaves as a ConnectError with the mapped code,
 * including errors thrown while a server stream is being iterated.
 */
export function withErrorMapping<T extends Record<string, AnyFn>>(impl: T): T {
  const wrapped: Record<string, AnyFn> = {};
  for (const [name, fn] of Object.entries(impl)) {
    wrapped[name] = (...args: never[]) => {
      const result = fn(...args);
      if (result && typeof result === "object" && Symbol.asyncIterator in result) {
        return mapStream(result as AsyncIterable<unknown>);
      }
      return Promise.resolve(result).catch((err: unknown) => {
        throw toConnectError(err);
      });
    };
  }
  return wrapped as T;
}

async function* mapStream<T>(stream: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toConnectError(err);
  }
}
