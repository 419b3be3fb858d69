import { describe, expect, it } from "vitest";
import { nodeVolumeBackends, whyNoVolumeBackend } from "./volume-capability.js";

describe("volume backends a node can open", () => {
  const reachable = { ceph: { reachable: true, pool: "rbd" } };
  const unreachable = {
    ceph: { reachable: false, reason: "listing Ceph pools (rados) did not answer", pool: "rbd" },
  };

  it("offers rbd only where Ceph answered", () => {
    expect(nodeVolumeBackends(reachable)).toEqual(["local", "rbd"]);
    expect(nodeVolumeBackends(unreachable)).toEqual(["local"]);
    expect(nodeVolumeBackends({})).toEqual(["local"]);
  });

  it("refuses a VM with an RBD volume on a node without Ceph, saying why", () => {
    expect(whyNoVolumeBackend(reachable, ["rbd", "local"])).toBeUndefined();
    expect(whyNoVolumeBackend({}, ["local"])).toBeUndefined();
    expect(whyNoVolumeBackend({}, ["rbd"])).toMatch(/--ceph-conf/);
    expect(whyNoVolumeBackend(unreachable, ["rbd"])).toMatch(/Ceph unreachable.*did not answer/);
  });
});
