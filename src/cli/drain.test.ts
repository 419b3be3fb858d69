import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { VmSchema } from "../gen/blixard/v1/vm_pb.js";
import { drainState } from "./drain.js";

const vm = (node: string, phase: string, desiredState = "running", message = "") =>
  create(VmSchema, { name: "web", desiredState, status: { node, phase, message } });

describe("following a drain", () => {
  it("waits while the VM is still on the node or not yet placed", () => {
    expect(drainState(vm("a", "Running"), "a")).toBe("leaving");
    expect(drainState(vm("", "Pending"), "a")).toBe("leaving");
    expect(drainState(vm("b", "Starting"), "a")).toBe("leaving");
  });

  it("reports it landed once it runs (or stays stopped) elsewhere", () => {
    expect(drainState(vm("b", "Running"), "a")).toEqual({ landed: "b" });
    expect(drainState(vm("b", "Stopped", "stopped"), "a")).toEqual({ landed: "b" });
  });

  it("reports a VM that fits nowhere instead of waiting for it", () => {
    const message = "no node can run VM web: a: cordoned; b: not enough memory";
    expect(drainState(vm("", "Pending", "running", message), "a")).toEqual({ stuck: message });
    expect(drainState(undefined, "a")).toBe("gone");
  });
});
