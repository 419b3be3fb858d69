/**
 * The one policy table: which role each RPC and each plain HTTP path needs. The request path of
 * Connect, gRPC and gRPC-Web is `/<package.Service>/<Method>`, so one key names an RPC for every
 * protocol. Anything not in the table is denied, so a new RPC is unreachable until it is listed here
 * (and policy.test.ts fails until it is).
 */
import { type Principal, type Role, roleAtLeast } from "./roles.js";

/**
 * `public`: served without a credential: /healthz, the cluster CA bundle, and Join, which carries
 * its own join token in the request body.
 */
export type Access = "public" | Role;

const VM = "blixard.v1.VmService";
const NODE = "blixard.v1.NodeService";
const CLUSTER = "blixard.v1.ClusterService";
const TOKEN = "blixard.v1.TokenService";
const SERVICE = "blixard.v1.ServiceService";
const FUNCTION = "blixard.v1.FunctionService";
const VOLUME = "blixard.v1.VolumeService";

export const POLICY: Readonly<Record<string, Access>> = {
  "/healthz": "public",
  // The cluster CA certificate (public like k3s's /cacerts): a joiner checks it against the
  // fingerprint in its join token before it sends anything secret. Served only by nodes with a PKI.
  "/cacerts": "public",
  "/metrics": "viewer",

  [`/${VM}/GetVm`]: "viewer",
  [`/${VM}/ListVms`]: "viewer",
  [`/${VM}/GetVmLogs`]: "viewer",
  [`/${VM}/FollowVmLogs`]: "viewer",
  [`/${VM}/ListEvents`]: "viewer",
  [`/${VM}/FollowEvents`]: "viewer",
  // Privileged spec fields (host paths, microvm.nix runners, flakes, inline Nix, shares) are checked
  // per field by core/spec-policy.ts.
  [`/${VM}/CreateVm`]: "operator",
  [`/${VM}/UpdateVm`]: "operator",
  [`/${VM}/StartVm`]: "operator",
  [`/${VM}/StopVm`]: "operator",
  [`/${VM}/RestartVm`]: "operator",
  [`/${VM}/DeleteVm`]: "operator",
  [`/${VM}/ScaleVmGroup`]: "operator",

  // Services take the roles of the same verbs on VMs.
  [`/${SERVICE}/GetService`]: "viewer",
  [`/${SERVICE}/ListServices`]: "viewer",
  [`/${SERVICE}/CreateService`]: "operator",
  [`/${SERVICE}/DeleteService`]: "operator",

  [`/${NODE}/ListNodes`]: "viewer",
  [`/${NODE}/GetNode`]: "viewer",
  [`/${NODE}/CordonNode`]: "admin",
  [`/${NODE}/UncordonNode`]: "admin",
  [`/${NODE}/DrainNode`]: "admin",

  [`/${CLUSTER}/GetClusterStatus`]: "viewer",
  // A joiner has no user credential: the join token in the request body authenticates it (checked
  // by the Join handler against the hashed join tokens in the store).
  [`/${CLUSTER}/Join`]: "public",
  [`/${CLUSTER}/Leave`]: "admin",
  [`/${CLUSTER}/Backup`]: "admin",
  [`/${CLUSTER}/CreateJoinToken`]: "admin",
  [`/${CLUSTER}/ListJoinTokens`]: "admin",
  [`/${CLUSTER}/RevokeJoinToken`]: "admin",

  [`/${TOKEN}/CreateToken`]: "admin",
  [`/${TOKEN}/ListTokens`]: "admin",
  [`/${TOKEN}/RevokeToken`]: "admin",
  [`/${TOKEN}/RotateToken`]: "admin",

  // Functions take the roles of the same verbs on VMs (a deploy creates VMs).
  [`/${FUNCTION}/GetFunction`]: "viewer",
  [`/${FUNCTION}/ListFunctions`]: "viewer",
  [`/${FUNCTION}/DeployFunction`]: "operator",
  [`/${FUNCTION}/DeleteFunction`]: "operator",
  // Volumes take the roles of the same verbs on VMs; a host image to copy from needs admin
  // (checked by api/volume-service.ts).
  [`/${VOLUME}/GetVolume`]: "viewer",
  [`/${VOLUME}/ListVolumes`]: "viewer",
  [`/${VOLUME}/CreateVolume`]: "operator",
  [`/${VOLUME}/DeleteVolume`]: "operator",
  [`/${VOLUME}/SnapshotVolume`]: "operator",
  [`/${VOLUME}/CloneVolume`]: "operator",
};

export type Decision =
  | { allow: true }
  | { allow: false; status: "unauthenticated" | "denied"; message: string };

/** The access rule of a request path, or undefined for a path the table does not know. */
export function accessOf(path: string, table: Readonly<Record<string, Access>> = POLICY): Access | undefined {
  return Object.hasOwn(table, path) ? table[path] : undefined;
}

/** Decides one request: `principal` is undefined when the request carried no valid credential. */
export function decide(
  path: string,
  principal: Principal | undefined,
  table: Readonly<Record<string, Access>> = POLICY,
): Decision {
  const access = accessOf(path, table);
  if (access === "public") return { allow: true };
  if (!principal) {
    return {
      allow: false,
      status: "unauthenticated",
      message:
        "unauthenticated: send Authorization: Bearer <token> (the CLI reads BLIXARD_TOKEN, --token-file or <data-dir>/token)",
    };
  }
  if (access === undefined) {
    return {
      allow: false,
      status: "denied",
      message: `permission denied: ${path} is not an API this node serves`,
    };
  }
  if (!roleAtLeast(principal.role, access)) {
    return {
      allow: false,
      status: "denied",
      message: `permission denied: ${path} needs the ${access} role; token "${principal.name}" has ${principal.role}`,
    };
  }
  return { allow: true };
}
