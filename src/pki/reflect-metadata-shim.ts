/**
 * @peculiar/x509 resolves its ASN.1 providers through tsyringe, which refuses to load unless a
 * `Reflect.getMetadata` polyfill is present (normally the reflect-metadata package, not installed
 * here). x509 only registers and resolves classes without constructor parameters, so a metadata
 * store keyed by target and key is all tsyringe needs. Imported before x509 (ESM evaluates imports
 * in order). Replace with `import "reflect-metadata"` if that package is added.
 */
type Target = object;
const store = new WeakMap<Target, Map<unknown, unknown>>();
const R = Reflect as unknown as Record<string, unknown>;

if (typeof R["getMetadata"] !== "function") {
  const own = (key: unknown, target: Target) => store.get(target)?.get(key);
  R["defineMetadata"] = (key: unknown, value: unknown, target: Target) => {
    const map = store.get(target) ?? new Map<unknown, unknown>();
    map.set(key, value);
    store.set(target, map);
  };
  R["getOwnMetadata"] = own;
  R["getMetadata"] = (key: unknown, target: Target): unknown => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      const value = own(key, t);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  R["hasMetadata"] = (key: unknown, target: Target) =>
    R["getMetadata"] !== undefined && own(key, target) !== undefined;
  R["metadata"] = (key: unknown, value: unknown) => (target: Target) =>
    (R["defineMetadata"] as (k: unknown, v: unknown, t: Target) => void)(key, value, target);
}

export {};
