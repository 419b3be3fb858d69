import { describe, expect, it } from "vitest";
import { compileEtcdStoreOptions } from "./etcd-options.js";

describe("etcd connection options", () => {
  it("refuses credentials or TLS files for plain http:// endpoints, where they would travel in the clear", () => {
    expect(() =>
      compileEtcdStoreOptions({
        endpoints: ["http://10.0.0.1:2379"],
        auth: { username: "u", password: "p" },
      }),
    ).toThrow(/travel in the clear/);
    expect(() =>
      compileEtcdStoreOptions({ endpoints: ["http://10.0.0.1:2379"], tls: { caPem: "x" } }),
    ).toThrow(/use https:\/\/ endpoints/);
  });

  it("refuses a mix of TLS and plain endpoints, and a client certificate without its key", () => {
    expect(() =>
      compileEtcdStoreOptions({ endpoints: ["https://10.0.0.1:2379", "http://10.0.0.2:2379"] }),
    ).toThrow(/mix https/);
    expect(() =>
      compileEtcdStoreOptions({ endpoints: ["https://10.0.0.1:2379"], tls: { certPem: "c" } }),
    ).toThrow(/--etcd-cert and --etcd-key/);
  });

  it("uses TLS with the system CAs for https:// endpoints given no files", () => {
    expect(compileEtcdStoreOptions({ endpoints: ["https://10.0.0.1:2379"] }).connection).toEqual({ tls: {} });
    expect(compileEtcdStoreOptions({ endpoints: ["http://10.0.0.1:2379"] }).connection).toEqual({});
  });
});
