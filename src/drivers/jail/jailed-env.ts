/**
 * The environment every jailed VM process (qemu, passt, a microvm.nix runner) gets: a PATH and
 * nothing else. The node's environment may carry credentials, and a guest that takes over qemu could
 * read its own environment.
 */
export const JAILED_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  LANG: "C",
};
