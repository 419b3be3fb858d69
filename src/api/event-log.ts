/**
 * Reading the event log (core/events.ts): the last events matching a filter, oldest first in the order
 * the store committed them, and following new ones through a watch.
 */
import { isBlixardError } from "../core/errors.js";
import type { VmEvent } from "../core/events.js";
import { keys } from "../core/keys.js";
import { vmEventCodec } from "../core/store-codecs.js";
import type { KeyValue, Store } from "../ports/store.js";

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
    const events = kvs
      .map(toLogged)
      .filter((e): e is LoggedEvent => e !== undefined && matches(e, filter))
      .sort((a, b) => a.revision - b.revision);
    return { events: events.slice(-(filter.limit || 100)), revision };
  }

  /**
   * New matching events after `revision`, until `signal` aborts. A watch that falls behind the store's
   * compaction point (a slow reader, or a `revision` read long ago) fails with COMPACTED: the events
   * still in the log after the last one delivered are read again and the watch resumes after them,
   * so the stream goes on instead of ending with an error.
   */
  async *follow(filter: EventFilter, revision: number, signal: AbortSignal): AsyncIterable<LoggedEvent> {
    let last = revision;
    while (!signal.aborted) {
      try {
        for await (const event of this.watchFrom(last, signal)) {
          last = event.revision;
          if (matches(event, filter)) yield event;
        }
        return;
      } catch (err) {
        if (!isBlixardError(err, "COMPACTED") || signal.aborted) throw err;
        const { kvs, revision: current } = await this.store.range(keys.eventsPrefix);
        const missed = kvs
          .map(toLogged)
          .filter((e): e is LoggedEvent => e !== undefined && e.revision > last)
          .sort((a, b) => a.revision - b.revision);
        for (const event of missed) if (matches(event, filter)) yield event;
        last = current;
      }
    }
  }

  /** Every event put after `revision`, in order. */
  private async *watchFrom(revision: number, signal: AbortSignal): AsyncIterable<LoggedEvent> {
    const watch = this.store.watch(keys.eventsPrefix, { fromRevision: revision + 1 });
    const stop = () => watch.close();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const batch of watch) {
        for (const event of batch.events) {
          const logged = event.type === "put" ? toLogged(event.kv) : undefined;
          if (logged) yield logged;
        }
      }
    } finally {
      signal.removeEventListener("abort", stop);
      watch.close();
    }
  }
}
