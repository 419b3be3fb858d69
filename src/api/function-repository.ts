/**
 * Functions in the store: a deploy writes the record under keys.function(name) with a new version
 * (compare-and-swap on the revision it read, so two deploys never lose each other), with its event;
 * a delete removes the record, and the pool controller then stops the instances.
 */
import { BlixardError } from "../core/errors.js";
import { EventKeys, eventEntry } from "../core/events.js";
import {
  decodeFunctionRecord,
  encodeFunctionRecord,
  FUNCTION_HISTORY,
  type FunctionRecord,
} from "../core/function-record.js";
import type { FunctionSpec } from "../core/function-spec.js";
import { keys } from "../core/keys.js";
import type { Clock } from "../ports/clock.js";
import type { Compare, Store } from "../ports/store.js";

const MAX_CAS_ATTEMPTS = 10;

export class FunctionRepository {
  private readonly eventKeys: EventKeys;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    writer = "api",
  ) {
    this.eventKeys = new EventKeys(writer);
  }

  /** Creates the function (version 1) or deploys its next version. */
  async deploy(spec: FunctionSpec, actor?: string): Promise<FunctionRecord> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const kv = await this.store.get(keys.function(spec.name));
      const before = kv ? this.decoded(spec.name, kv.value) : undefined;
      const now = this.clock.now();
      const at = new Date(now).toISOString();
      const version = (before?.version ?? 0) + 1;
      const record: FunctionRecord = {
        name: spec.name,
        version,
        spec,
        createdAt: before?.createdAt ?? at,
        history: [
          ...(before?.history ?? []),
          { version, deployedAt: at, ...(actor === undefined ? {} : { actor }) },
        ].slice(-FUNCTION_HISTORY),
      };
      const compare: Compare = kv
        ? { key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }
        : { key: keys.function(spec.name), target: "createRevision", op: "=", value: 0 };
      const result = await this.store.txn({
        confirmQuorum: true,
        compare: [compare],
        success: [
          { type: "put", key: keys.function(spec.name), value: encodeFunctionRecord(record) },
          eventEntry(this.eventKeys, now, {
            type: "function-deployed",
            vm: spec.name,
            node: "",
            reason: `function ${spec.name} version ${version} deployed${before ? `; version ${before.version} drains` : ""}`,
            ...(actor === undefined ? {} : { actor }),
          }),
        ],
      });
      if (result.succeeded) return record;
    }
    throw new BlixardError("CONFLICT", `function "${spec.name}" changed concurrently; retry the deploy`);
  }

  async get(name: string): Promise<FunctionRecord> {
    const kv = await this.store.get(keys.function(name));
    if (!kv) throw notFound(name);
    return this.decoded(name, kv.value);
  }

  async delete(name: string, actor?: string): Promise<void> {
    const kv = await this.store.get(keys.function(name));
    if (!kv) throw notFound(name);
    const result = await this.store.txn({
      confirmQuorum: true,
      compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
      success: [
        { type: "delete", key: kv.key },
        eventEntry(this.eventKeys, this.clock.now(), {
          type: "function-deleted",
          vm: name,
          node: "",
          reason: `function ${name} deleted; its instances stop`,
          ...(actor === undefined ? {} : { actor }),
        }),
      ],
    });
    if (!result.succeeded) {
      throw new BlixardError("CONFLICT", `function "${name}" changed meanwhile; retry the request`);
    }
  }

  private decoded(name: string, value: string): FunctionRecord {
    const result = decodeFunctionRecord(name, value);
    if (result.ok) return result.value;
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `the stored record of function "${name}" is not one the API could have written (${result.problem.slice(0, 2000)}); remove it with: blixard fn delete ${name}`,
    );
  }
}

function notFound(name: string): BlixardError {
  return new BlixardError("NOT_FOUND", `function "${name}" not found; list functions with: blixard fn list`);
}
