/** A mistake in how the CLI was called: printed as one line, like every error, with what to change. */
export class UsageError extends Error {}
