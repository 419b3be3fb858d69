/**
 * `--discover tailscale` with a stand-in `tailscale` CLI on PATH that prints a status in Tailscale's
 * real JSON format (test/fixtures/tailscale). Two loopback addresses play two hosts: the first node
 * forms the cluster on 127.0.0.1, the fixture's tagged online peer points there, and the second node,
 * on 127.0.0.2 with the same API port as a tailnet's nodes would use, finds it and joins.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "./global-setup.js";
import { TestNode } from "./harness.js";

describe("joining through Tailscale discovery", () => {
  let first: TestNode;
  const others: TestNode[] = [];
  const bin = mkdtempSync(join(tmpdir(), "blixard-fake-tailscale-"));

  beforeAll(async () => {
    first = await TestNode.start(["--cluster-init"], { portSpan: 3 });
    const status = JSON.parse(
      readFileSync(join(REPO, "test/fixtures/tailscale/status-running.json"), "utf8"),
    ) as {
      Peer: Record<string, { HostName: string; TailscaleIPs: string[] }>;
    };
    for (const peer of Object.values(status.Peer)) {
      // hv-2 is online and tagged tag:blixard; hv-3 is tagged but offline; laptop is untagged.
      if (peer.HostName === "hv-2") peer.TailscaleIPs = ["127.0.0.1", "fd7a:115c:a1e0::2"];
    }
    writeFileSync(join(bin, "status.json"), JSON.stringify(status));
    writeFileSync(
      join(bin, "tailscale"),
      `#!/bin/sh\n[ "$1 $2" = "status --json" ] || exit 2\nexec cat "${join(bin, "status.json")}"\n`,
    );
    chmodSync(join(bin, "tailscale"), 0o755);
  });
  afterAll(async () => {
    for (const node of [first, ...others]) await node?.destroy();
    rmSync(bin, { recursive: true, force: true });
  });

  it("joins the cluster of the online peer tagged tag:blixard", async () => {
    // The same join token as --join: it pins the cluster CA, which the tailnet peer must present.
    const token = first.joinToken();
    const second = await TestNode.start(["--discover", "tailscale", "--token", token], {
      host: "127.0.0.2",
      port: first.port,
      env: { PATH: `${bin}:${process.env["PATH"] ?? ""}` },
    });
    others.push(second);
    const status = JSON.parse(first.ok("cluster", "status", "-o", "json")) as {
      members: { started: boolean }[];
    };
    expect(status.members).toHaveLength(2);
    expect(status.members.every((m) => m.started)).toBe(true);
    expect(second.log()).toMatch(/"candidates":\["hv-2"\].*"msg":"found join candidates on the tailnet"/);
  });

  it("says clearly when tailscale is not installed", async () => {
    const node = await TestNode.create(
      ["--discover", "tailscale", "--token", `K10${"ab".repeat(32)}::join:abc123.${"s".repeat(32)}`],
      {
        portSpan: 3,
        // No tailscale here; nft (which every node needs for the guests' loopback guard) lives in sbin.
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      },
    );
    others.push(node);
    await expect(node.launch()).rejects.toThrow(
      /needs the tailscale CLI, but "tailscale" is not installed or not on PATH/,
    );
  });
});
