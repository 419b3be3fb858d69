/**
 * Turns any failure into the one line the CLI prints, with a hint when the node cannot be reached.
 * Loaded only when a command fails (it needs Connect's error type).
 */
import { Code, ConnectError } from "@connectrpc/connect";

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
    if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|fetch failed|socket hang up/.test(err.rawMessage)) {
      return `cannot reach the blixard node at ${server}: is \`blixard node\` running? (set --server or BLIXARD_SERVER)`;
    }
    // The node answered, but something behind it (the store, another node) is unavailable: say what.
    if (err.code === Code.Unavailable) return `the node at ${server} is unavailable: ${err.rawMessage}`;
    if (err.code === Code.Unauthenticated) {
      return `the node at ${server} rejected our token: set BLIXARD_TOKEN to the contents of <data-dir>/token, or pass --token-file (${err.rawMessage.trim()})`;
    }
    if (err.code === Code.PermissionDenied) return err.rawMessage;
    return err.rawMessage;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
