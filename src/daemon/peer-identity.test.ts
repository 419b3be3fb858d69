import { beforeEach, describe, expect, it, vi } from "vitest";

const parse = vi.fn((_raw: Uint8Array) => "node-a");
vi.mock("../pki/node-cert.js", () => ({ nodeIdOfCert: (raw: Uint8Array) => parse(raw) }));
const { nodeIdFromPeerCertificate } = await import("./peer-identity.js");

const socket = (fingerprint: string, authorized = true) =>
  ({
    authorized,
    getPeerCertificate: () => ({ raw: Buffer.from(fingerprint), fingerprint256: fingerprint }),
  }) as never;

describe("nodeIdFromPeerCertificate", () => {
  beforeEach(() => parse.mockClear());

  it("parses a certificate once, however many connections present it", () => {
    for (let i = 0; i < 5; i++) expect(nodeIdFromPeerCertificate(socket("AA:01"))).toBe("node-a");
    expect(parse).toHaveBeenCalledTimes(1);
    expect(nodeIdFromPeerCertificate(socket("AA:02"))).toBe("node-a");
    expect(parse).toHaveBeenCalledTimes(2);
  });

  it("names no node for a certificate the CA did not sign, cached or not", () => {
    // The attack: a client that presents a certificate the cluster CA did not sign, with the same
    // fingerprint as a node's, gets nothing from the cache: the check of the chain comes first.
    expect(nodeIdFromPeerCertificate(socket("AA:01"))).toBe("node-a");
    expect(nodeIdFromPeerCertificate(socket("AA:01", false))).toBeUndefined();
  });
});
