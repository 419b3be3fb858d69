/**
 * One registry of error codes. Every failure that crosses a layer is a BlixardError with a stable code,
 * a message that tells the reader what to do, and an optional cause. The API maps codes to RPC status
 * codes in one place (api/error-mapping.ts); the CLI prints one line.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: "user",
  NOT_FOUND: "user",
  ALREADY_EXISTS: "user",
  FAILED_PRECONDITION: "user",
  CONFLICT: "user",
  UNAUTHENTICATED: "user",
  PERMISSION_DENIED: "user",
  UNAVAILABLE: "system",
  DEADLINE_EXCEEDED: "system",
  COMPACTED: "system",
  LEASE_NOT_FOUND: "system",
  DRIVER_FAILED: "system",
  INTERNAL: "system",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorKind = (typeof ERROR_CODES)[ErrorCode];

export interface FieldViolation {
  /** Dotted path of the offending field, e.g. `spec.forwards.0.host`. */
  field: string;
  message: string;
}

export class BlixardError extends Error {
  override readonly name = "BlixardError";
  readonly code: ErrorCode;
  readonly violations: readonly FieldViolation[];

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; violations?: FieldViolation[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.violations = options.violations ?? [];
  }

  get kind(): ErrorKind {
    return ERROR_CODES[this.code];
  }
}

export function isBlixardError(err: unknown, code?: ErrorCode): err is BlixardError {
  return err instanceof BlixardError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
