import { describe, expect, it } from "vitest";
import { checkLeave, majority, type QuorumMember } from "./quorum.js";

const m = (name: string, healthy = true, voting = true): QuorumMember => ({ name, healthy, voting });

describe("leaving an etcd cluster", () => {
  it("needs a majority of the voters", () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });

  it("is safe when the remaining healthy members keep a quorum", () => {
    expect(checkLeave([m("a"), m("b"), m("c")], "a")).toEqual({ remaining: 2 });
    expect(checkLeave([m("a"), m("b")], "a")).toEqual({ remaining: 1 });
  });

  it("refuses when the members left behind could not form a quorum", () => {
    const verdict = checkLeave([m("a"), m("b"), m("c", false)], "a");
    expect(verdict.remaining).toBe(2);
    expect(verdict.problem).toMatch(
      /1 of the 2 remaining members would be healthy .* needs 2 \(down: c\).*--force/,
    );
  });

  it("lets an unhealthy member leave a cluster that keeps its quorum", () => {
    expect(checkLeave([m("a", false), m("b"), m("c"), m("d")], "a")).toEqual({ remaining: 3 });
  });

  it("does not count learners as voters", () => {
    expect(checkLeave([m("a"), m("b", true, false)], "a").problem).toMatch(/only voting member/);
  });

  it("refuses the last member and a node that is not a member", () => {
    expect(checkLeave([m("a")], "a").problem).toMatch(/only voting member; stop the node instead/);
    expect(checkLeave([m("a"), m("b")], "x").problem).toMatch(/not an etcd member/);
  });
});
