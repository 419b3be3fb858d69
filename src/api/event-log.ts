/**
 * Reading the event log (core/events.ts): the last events matching a filter, oldest first in the order
 * the store committed them, and following new ones through a watch.
 */
import type { VmEvent } from "../core/events.js";
import { keys } from "../core/keys.js";
import { vmEventCodec } from "../core/store-codecs.js";
import type { KeyValue, Store, WatchBatch } from "../ports/store.js";
import { followPrefix } from "../state/follow-prefix.js";

export interface EventFilter {
  vm?: string;
  node?: string;
  /** The last N matching events; 100 by default. */
  limit?: number;
}

export interface LoggedEvent extends VmEvent {
  revision: number;
}

function matches(event: VmEvent, filter: EventFilter): boolean {
  return (!filter.vm || event.vm === filter.vm) && (!filter.node || event.node === filter.node);
}

/** The event a key holds, or undefined for a value no Blixard writer could have written (skipped). */
function toLogged(kv: KeyValue): LoggedEvent | undefined {
  const decoded = vmEventCodec.decode(kv.value);
  return decoded.ok ? { ...decoded.value, revision: kv.modRevision } : undefined;
}

export class EventLog {
  constructor(private readonly store: Store) {}

  /** The last matching events and the revision they were read at (follow from the next one). */
  async list(filter: EventFilter): Promise<{ events: LoggedEvent[]; revision: number }> {
    const { kvs, revision } = await this.store.range(keys.eventsPrefix);
    const events = inOrder(kvs).filter((e) => matches(e, filter));
    return { events: events.slice(-(filter.limit || 100)), revision };
  }

  /**
   * New matching events after `revision`, until `signal` aborts. A watch that falls behind the store's
   * compaction point (a slow reader, or a `revision` read long ago) is followed by a list
   * (state/follow-prefix.ts): the events still in the log after the last one delivered are delivered
   * from it and the watch resumes after them, so the stream goes on instead of ending with an error.
   */
  async *follow(filter: EventFilter, revision: number, signal: AbortSignal): AsyncIterable<LoggedEvent> {
    let last = revision;
    const steps = followPrefix({
      store: this.store,
      prefix: keys.eventsPrefix,
      fromRevision: revision + 1,
      signal,
    });
    for await (const step of steps) {
      // After a list, the events it holds that the stream has not delivered yet.
      const events =
        step.type === "list" ? inOrder(step.kvs).filter((e) => e.revision > last) : putsIn(step.batch);
      for (const event of events) if (matches(event, filter)) yield event;
      last = step.type === "list" ? step.revision : step.batch.revision;
    }
  }
}

/** The events a list holds, in the order the store committed them. */
function inOrder(kvs: KeyValue[]): LoggedEvent[] {
  return kvs
    .map(toLogged)
    .filter((e): e is LoggedEvent => e !== undefined)
    .sort((a, b) => a.revision - b.revision);
}

/** The events a watch batch puts (events are never rewritten; a delete is the leader pruning). */
function putsIn(batch: WatchBatch): LoggedEvent[] {
  return batch.events.flatMap((event) => {
    const logged = event.type === "put" ? toLogged(event.kv) : undefined;
    return logged ? [logged] : [];
  });
}
