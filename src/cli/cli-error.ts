/** Turns any failure into the one line the CLI prints, with a hint when the node cannot be reached. */
import { Code, ConnectError } from "@connectrpc/connect";

export class UsageError extends Error {}

export function describeError(err: unknown, server: string): string {
  if (err instanceof ConnectError) {
    if (
      /self[- ]signed certificate|unable to verify|unable to get (local )?issuer|certificate/i.test(
        err.rawMessage,
      )
    ) {
      return (
        `cannot verify the TLS certificate of the node at ${server} (${err.rawMessage}): pass --ca-file with the ` +
        "cluster CA (<data-dir>/pki/ca.crt on a member; it is public) or set BLIXARD_CA_FILE"
      );
    }
    if (err.code === Code.Unavailable || /ECONNREFUSED|fetch failed|ENOTFOUND/.test(err.rawMessage)) {
      return `cannot reach the blixard node at ${server}: is \`blixard node\` running? (set --server or BLIXARD_SERVER)`;
    }
    if (err.code === Code.Unauthenticated) {
      return `the node at ${server} rejected our token: set BLIXARD_TOKEN to the contents of <data-dir>/token, or pass --token-file (${err.rawMessage.trim()})`;
    }
    if (err.code === Code.PermissionDenied) return err.rawMessage;
    return err.rawMessage;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
