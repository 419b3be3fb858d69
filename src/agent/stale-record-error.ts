/** The VM's assignment changed since the agent last saw it: the watch brings the new one, and a reconcile. */
export class StaleRecordError extends Error {
  constructor(vm: string) {
    super(`the record of VM ${vm} changed since this node read it`);
  }
}
