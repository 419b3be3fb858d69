/** What a driver observes about a VM process on this node. */
export interface VmExit {
  code: number | null;
  signal: string | null;
  /** False when the process was not our child (re-adopted) and its status could not be read. */
  known: boolean;
}

export type VmRuntime =
  | { state: "running"; pid: number; startedAt: number }
  | { state: "exited"; exit: VmExit }
  /** Nothing was ever started, or the state dir was cleaned up. */
  | { state: "absent" };
