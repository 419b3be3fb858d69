/**
 * Whether a member may leave an etcd cluster without taking its quorum down. Raft commits with a
 * majority of the voting members, so after the leave the healthy voters that remain must still be a
 * majority of the voters that remain. Learners do not vote and do not count.
 */
export interface QuorumMember {
  name: string;
  voting: boolean;
  healthy: boolean;
}

export interface LeaveVerdict {
  /** Voting members after the leave. */
  remaining: number;
  /** Why leaving would break the cluster; undefined when it is safe. */
  problem?: string;
}

export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export function checkLeave(members: readonly QuorumMember[], leaving: string): LeaveVerdict {
  const self = members.find((m) => m.name === leaving);
  const others = members.filter((m) => m.name !== leaving && m.voting);
  const remaining = others.length;
  if (!self) {
    return { remaining, problem: `node ${leaving} is not an etcd member of this cluster` };
  }
  if (remaining === 0) {
    return {
      remaining,
      problem:
        "this is the cluster's only voting member; stop the node instead (its data stays in its data dir)",
    };
  }
  const healthy = others.filter((m) => m.healthy).length;
  const needed = majority(remaining);
  if (healthy < needed) {
    const down = others.filter((m) => !m.healthy).map((m) => m.name);
    return {
      remaining,
      problem:
        `after leaving, ${healthy} of the ${remaining} remaining members would be healthy and a quorum needs ${needed} ` +
        `(down: ${down.join(", ")}); bring them back first, or pass --force to leave anyway`,
    };
  }
  return { remaining };
}
