/**
 * Who may do what: the three roles of an API credential and the principal a request runs as.
 * Roles are ordered; each one may do everything the roles below it may.
 */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/**
 * The authenticated caller of a request: a token's name and role, or `node:<id>` with the viewer role
 * for another node of the cluster presenting its certificate (node-to-node log routing).
 */
export interface Principal {
  name: string;
  role: Role;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** True when `role` may do what `needed` may. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
