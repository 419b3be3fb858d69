import { describe, expect, it } from "vitest";
import {
  decodeServiceRecord,
  encodeServiceRecord,
  portClaimHolder,
  type ServiceRecord,
  serviceClaimHolder,
} from "./service-record.js";
import { parseServiceSpec } from "./service-spec.js";

const record: ServiceRecord = {
  name: "web",
  spec: parseServiceSpec({ name: "web", port: 80, targetPort: 8080, group: "web" }),
  address: "10.89.0.7",
  createdAt: "2026-12-03T00:00:00.000Z",
};

describe("service record codec", () => {
  it("reads back what it wrote", () => {
    expect(decodeServiceRecord("web", encodeServiceRecord(record))).toEqual({ ok: true, value: record });
  });

  it("refuses a record stored under another service's key, or with an address that is no address", () => {
    expect(decodeServiceRecord("api", encodeServiceRecord(record)).ok).toBe(false);
    const forged = encodeServiceRecord({ ...record, address: "10.89.0.7 } ; flush ruleset ; {" });
    expect(decodeServiceRecord("web", forged)).toMatchObject({ ok: false, problem: /address/ });
    expect(decodeServiceRecord("web", "{")).toEqual({ ok: false, problem: "not JSON" });
  });
});

describe("port claim holders", () => {
  it("names the service that holds a port, and a VM's bare name as the VM's", () => {
    expect(serviceClaimHolder("web")).toBe('{"service":"web"}');
    expect(portClaimHolder(serviceClaimHolder("web"))).toBe('the host port of service "web"');
    expect(portClaimHolder("vm-a")).toBe('forwarded by VM "vm-a"');
    // A value that is no holder is shown as written (cut short), never read as a service's.
    expect(portClaimHolder('{"service":1}')).toBe('forwarded by VM "{"service":1}"');
  });
});
