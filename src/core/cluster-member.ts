/** An etcd member of the cluster, as etcd lists it and as its own status endpoint reports it. */
export interface MemberInfo {
  /** etcd's member id in hex, e.g. "8e9e05c52164694d". */
  id: string;
  /** "" until the member has started and published its name. */
  name: string;
  peerUrls: string[];
  /** Empty until the member has started. */
  clientUrls: string[];
  learner: boolean;
  started: boolean;
}

export interface MemberStatus extends MemberInfo {
  /** Whether the member says it is the leader. */
  leader: boolean;
  raftTerm: number;
  raftIndex: number;
  dbSizeBytes: number;
  version: string;
  /** Why the member's status is unknown (not started, unreachable); the numbers are 0 then. */
  error?: string;
}
