/**
 * etcd cluster administration: the member list and each member's status, adding a node's member as
 * a learner and promoting it, removing a member, and streaming a snapshot. The daemon uses it to form
 * the cluster (`blixard node --join`) and for `blixard cluster status|leave|backup`.
 *
 * Member ids are uint64s. Here they are lowercase hex without leading zeros, as etcdctl prints them
 * and etcd logs them; the etcd3 library speaks decimal strings, and only this file converts.
 *
 * Membership changes are writes, yet unlike a key write each one recognises its own earlier success
 * when repeated: removing a removed member answers "member not found", promoting a voter "can only
 * promote a learner member", adding a known peer URL "Peer URLs already exists" (or, within the
 * same second, "member ID already exist"). So a change whose reply was lost is sent again, and such
 * an answer to the repeat counts as done.
 */
import type { Etcd3, IMember, IResponseStream, ISnapshotResponse } from "etcd3";
import type { MemberInfo, MemberStatus } from "../../core/cluster-member.js";
import { BlixardError, errorMessage } from "../../core/errors.js";
import { type Logger, silentLogger } from "../../ports/logger.js";
import { type CallOptions, EtcdEndpoints } from "./etcd-endpoints.js";
import { blamesEndpoint, toStoreError, wasNotSent } from "./etcd-errors.js";
import { compileEtcdStoreOptions, type EtcdConnection, type EtcdTls } from "./etcd-options.js";

export type { MemberInfo, MemberStatus } from "../../core/cluster-member.js";

export interface EtcdAdminOptions {
  /** Client URLs of the members to send the calls to, e.g. http://127.0.0.1:2379. */
  endpoints: readonly string[];
  /** The deadline of each call, retries included; 5 s by default. */
  callTimeoutMs?: number;
  logger?: Logger;
  /** TLS material and etcd credentials, as for EtcdStore. */
  tls?: EtcdTls;
  auth?: { username: string; password: string };
}

export interface PromoteOptions {
  /** How long to wait for the learner to catch up with the leader; 60 s by default. */
  timeoutMs?: number;
  /** Called before each pause while the learner is catching up. */
  onWait?: (attempt: number, lastError: string) => void;
}

const PEER_URL_EXISTS = "Peer URLs already exists";
/** etcd derives a new member's id from its peer URLs and the time in seconds: a repeat within the second. */
const ID_EXISTS = "member ID already exist";
const NOT_FOUND = "member not found";
const NOT_LEARNER = "can only promote a learner member";
const NOT_IN_SYNC = "can only promote a learner member which is in sync with leader";
const PROMOTE_PAUSE_MS = 1_000;
const HEALTH_PAUSE_MS = 500;
/** etcd's refusal of a membership change while a voting member is down or has just reconnected. */
const UNHEALTHY = "etcdserver: unhealthy cluster";
/** Each member's status call in memberStatuses() gets at most this long. */
const STATUS_TIMEOUT_MS = 2_000;

type SnapshotStream = IResponseStream<ISnapshotResponse> &
  AsyncIterable<ISnapshotResponse> & { cancel(): void };

const has = (err: unknown, text: string) => errorMessage(err).includes(text);
const alreadyAdded = (err: unknown) => has(err, PEER_URL_EXISTS) || has(err, ID_EXISTS);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function toHex(id: string): string {
  return BigInt(id).toString(16);
}

function toDecimal(id: string): string {
  if (!/^[0-9a-f]{1,16}$/i.test(id)) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `"${id}" is not an etcd member id; give the id in hex as the member list shows it, e.g. 8e9e05c52164694d`,
    );
  }
  return BigInt(`0x${id}`).toString();
}

function memberNotFound(what: string, cause: unknown): BlixardError {
  return new BlixardError(
    "NOT_FOUND",
    `cannot ${what}: etcd has no such member; list the members for its id`,
    {
      cause,
    },
  );
}

function toMember(member: IMember): MemberInfo {
  const clientUrls = member.clientURLs ?? [];
  const name = member.name ?? "";
  return {
    id: toHex(member.ID),
    name,
    peerUrls: member.peerURLs ?? [],
    clientUrls,
    learner: member.isLearner ?? false,
    started: name !== "" || clientUrls.length > 0,
  };
}

/**
 * `--initial-cluster` for a member joining with the given member list: name=peerUrl for each peer URL.
 * A member that has not started has no name in etcd's reply; `names` supplies it, by member id.
 */
export function initialClusterString(members: MemberInfo[], names: Record<string, string>): string {
  return members
    .flatMap((member) => {
      const name = member.name || names[member.id];
      if (!name) {
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `etcd member ${member.id} (${member.peerUrls.join(", ")}) has never started, so its name is unknown; ` +
            "start its node, or remove the member if that node is gone",
        );
      }
      return member.peerUrls.map((url) => `${name}=${url}`);
    })
    .join(",");
}

export class EtcdAdmin {
  private constructor(
    private readonly endpoints: EtcdEndpoints,
    private readonly callTimeoutMs: number,
    private readonly log: Logger,
    private readonly connection: EtcdConnection,
  ) {}

  /** Makes the clients; they connect on the first call. */
  static connect(options: EtcdAdminOptions): EtcdAdmin {
    const compiled = compileEtcdStoreOptions({
      endpoints: options.endpoints,
      callTimeoutMs: options.callTimeoutMs,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
    });
    const log = (options.logger ?? silentLogger).child({ component: "etcd-admin" });
    return new EtcdAdmin(
      new EtcdEndpoints(compiled.endpoints, log, compiled.connection),
      compiled.callTimeoutMs,
      log,
      compiled.connection,
    );
  }

  async members(): Promise<MemberInfo[]> {
    try {
      const reply = await this.endpoints.run("read", this.callTimeoutMs, (client, call) =>
        client.cluster.memberList({}, call),
      );
      return reply.members.map(toMember);
    } catch (err) {
      throw this.error(err, "list the etcd members");
    }
  }

  /** The member list with each started member's own status; a member that does not answer gets `error`. */
  async memberStatuses(): Promise<MemberStatus[]> {
    const members = await this.members();
    return Promise.all(members.map((member) => this.statusOf(member)));
  }

  /**
   * Adds a member with `peerUrl` as a learner; its node then starts etcd with state "existing". etcd
   * refuses membership changes for a few seconds after a member (re)connects ("unhealthy cluster",
   * checked before anything is proposed, so nothing was added): such refusals are retried for up to
   * `healthWaitMs` (10 s by default).
   */
  async addLearner(
    peerUrl: string,
    options: { healthWaitMs?: number } = {},
  ): Promise<{ id: string; members: MemberInfo[] }> {
    const what = `add an etcd learner with peer URL ${peerUrl}`;
    const deadline = Date.now() + (options.healthWaitMs ?? 10_000);
    let maybeAdded = false;
    const attempt = () =>
      this.endpoints.run("read", this.callTimeoutMs, async (client, call) => {
        try {
          const reply = await client.cluster.memberAdd({ peerURLs: [peerUrl], isLearner: true }, call);
          return { id: toHex(reply.member.ID), members: reply.members.map(toMember) };
        } catch (err) {
          if (maybeAdded && alreadyAdded(err)) {
            const members = (await client.cluster.memberList({}, call)).members.map(toMember);
            const ours = members.find((m) => m.learner && !m.started && m.peerUrls.includes(peerUrl));
            if (ours !== undefined) return { id: ours.id, members };
          }
          maybeAdded ||= blamesEndpoint(err) && !wasNotSent(err) && !has(err, UNHEALTHY);
          throw err;
        }
      });
    try {
      for (;;) {
        try {
          return await attempt();
        } catch (err) {
          if (maybeAdded || !has(err, UNHEALTHY) || Date.now() + HEALTH_PAUSE_MS >= deadline) throw err;
          await sleep(HEALTH_PAUSE_MS);
        }
      }
    } catch (err) {
      if (alreadyAdded(err)) {
        throw new BlixardError(
          "ALREADY_EXISTS",
          `cannot ${what}: a member with that peer URL is already in the cluster; if its node is joining ` +
            "again, remove the old member first (the member list shows its id)",
          { cause: err },
        );
      }
      const e = this.error(err, what);
      if (!maybeAdded) throw e;
      const hint = " The learner may have been added anyway: list the members before adding it again.";
      throw new BlixardError(e.code, e.message + hint, { cause: err });
    }
  }

  /** Promotes a learner to a voting member, waiting while it catches up with the leader. */
  async promote(id: string, options: PromoteOptions = {}): Promise<void> {
    const ID = toDecimal(id);
    const what = `promote etcd member ${id}`;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const callMs = Math.max(1, Math.min(this.callTimeoutMs, deadline - Date.now()));
      let err: unknown;
      try {
        await this.endpoints.run("read", callMs, (client, call) =>
          client.cluster.memberPromote({ ID }, call),
        );
        return;
      } catch (e) {
        err = e;
      }
      const catchingUp = has(err, NOT_IN_SYNC);
      // Already a voter: promoted by an earlier attempt whose reply was lost, or by someone else.
      if (!catchingUp && has(err, NOT_LEARNER)) return;
      if (!catchingUp) {
        if (!blamesEndpoint(err)) throw this.error(err, what);
        // Inconclusive. An etcd 3.4 follower forwards a promotion to the leader and times out when
        // the leader refuses it for a reason it does not know (an unknown id); the member list tells.
        const members = await this.members().catch(() => undefined);
        const member = members?.find((m) => m.id === id);
        if (members === undefined) throw this.error(err, what);
        if (member === undefined) throw memberNotFound(what, err);
        if (!member.learner) return;
      }
      if (Date.now() + PROMOTE_PAUSE_MS >= deadline) {
        if (!catchingUp) throw this.error(err, what);
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `cannot ${what}: the learner has not caught up with the leader within ${timeoutMs} ms; ` +
            "check that its etcd is running and can reach the other members at their peer URLs, then promote it again",
          { cause: err },
        );
      }
      options.onWait?.(attempt, errorMessage(err));
      await sleep(PROMOTE_PAUSE_MS);
    }
  }

  async remove(id: string): Promise<void> {
    const ID = toDecimal(id);
    let maybeRemoved = false;
    try {
      await this.endpoints.run("read", this.callTimeoutMs, async (client, call) => {
        try {
          await client.cluster.memberRemove({ ID }, call);
        } catch (err) {
          if (maybeRemoved && has(err, NOT_FOUND)) return;
          maybeRemoved ||= blamesEndpoint(err) && !wasNotSent(err);
          throw err;
        }
      });
    } catch (err) {
      throw this.error(err, `remove etcd member ${id}`);
    }
  }

  /**
   * A snapshot of the whole keyspace from one member, as etcd streams it (the database followed by its
   * sha256, which `snapshot restore` checks). Stopping early cancels the stream.
   */
  async *snapshot(): AsyncGenerator<Uint8Array, void, undefined> {
    let received = 0;
    let stream: SnapshotStream | undefined;
    let complete = false;
    try {
      // Open on a member that answers; once the data flows, a broken stream means starting over.
      const opened = await this.endpoints.run("read", this.callTimeoutMs, (client) =>
        this.openSnapshot(client),
      );
      stream = opened.stream;
      let next = opened.first;
      let remaining = "";
      while (!next.done) {
        received += next.value.blob.length;
        remaining = next.value.remaining_bytes;
        yield next.value.blob;
        next = await opened.iterator.next();
      }
      if (remaining !== "0") throw new Error(`the stream ended with ${remaining} bytes still to come`);
      complete = true;
    } catch (err) {
      const e = this.error(err, "take an etcd snapshot");
      throw received === 0
        ? e
        : new BlixardError(
            "UNAVAILABLE",
            `the etcd snapshot broke off after ${received} bytes (${errorMessage(err)}); take it again`,
            { cause: err },
          );
    } finally {
      if (!complete) stream?.cancel();
    }
  }

  close(): void {
    this.endpoints.close();
  }

  private async openSnapshot(client: Etcd3) {
    const stream = (await client.maintenance.snapshot()) as SnapshotStream;
    const iterator = stream[Symbol.asyncIterator]();
    try {
      return { stream, iterator, first: await iterator.next() };
    } catch (err) {
      stream.cancel();
      throw err;
    }
  }

  private async statusOf(member: MemberInfo): Promise<MemberStatus> {
    const unknown = { leader: false, raftTerm: 0, raftIndex: 0, dbSizeBytes: 0, version: "" };
    const url = member.clientUrls[0];
    if (url === undefined) {
      return { ...member, ...unknown, error: "not started: its etcd has not joined the cluster yet" };
    }
    const endpoint = new EtcdEndpoints([url], this.log, this.connection);
    const timeoutMs = Math.min(this.callTimeoutMs, STATUS_TIMEOUT_MS);
    try {
      const status = await endpoint.run("read", timeoutMs, (client, call: CallOptions) =>
        client.maintenance.status(call),
      );
      const answered = toHex(status.header.member_id);
      if (answered !== member.id) {
        return { ...member, ...unknown, error: `${url} is served by another member (${answered})` };
      }
      return {
        ...member,
        leader: status.leader === status.header.member_id,
        raftTerm: Number(status.raftTerm),
        raftIndex: Number(status.raftIndex),
        dbSizeBytes: Number(status.dbSize),
        version: status.version,
      };
    } catch (err) {
      const e = toStoreError(err, { what: "get the status", kind: "read", endpoints: [url], timeoutMs });
      const error =
        e.code === "DEADLINE_EXCEEDED"
          ? `no answer from ${url} within ${timeoutMs} ms`
          : `unreachable at ${url} (${errorMessage(err)})`;
      return { ...member, ...unknown, error };
    } finally {
      endpoint.close();
    }
  }

  private error(err: unknown, what: string): BlixardError {
    const fail = (code: "FAILED_PRECONDITION" | "UNAVAILABLE", advice: string) =>
      new BlixardError(code, `cannot ${what}: ${advice}`, { cause: err });
    if (has(err, NOT_FOUND)) return memberNotFound(what, err);
    if (has(err, "too many learner members")) {
      return fail(
        "FAILED_PRECONDITION",
        "another member is still a learner and etcd allows one at a time; wait until it is promoted, " +
          "or remove it if its node never started",
      );
    }
    if (has(err, "not enough started members")) {
      return fail(
        "FAILED_PRECONDITION",
        "the cluster would be left without a quorum of started members; start the stopped members, " +
          "or remove the ones that are gone for good, first",
      );
    }
    if (has(err, UNHEALTHY)) {
      return fail(
        "UNAVAILABLE",
        "etcd refuses membership changes while a voting member is unreachable or has just reconnected; " +
          "wait a few seconds and try again, and start or remove members that are down",
      );
    }
    return toStoreError(err, {
      what,
      kind: "read",
      endpoints: this.endpoints.endpoints,
      timeoutMs: this.callTimeoutMs,
    });
  }
}
