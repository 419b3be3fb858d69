/** The services in the store as a collection (state/collections.ts), for the proxy's informer. */
import { keys } from "../../core/keys.js";
import { decodeServiceRecord, type ServiceRecord } from "../../core/service-record.js";
import type { Collection } from "../../state/collections.js";

export const serviceCollection: Collection<ServiceRecord> = {
  kind: "service record",
  prefix: keys.servicesPrefix,
  decode: (name, kv) => decodeServiceRecord(name, kv.value),
};
