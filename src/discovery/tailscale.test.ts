import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinCandidates, parseTailscaleStatus, readTailscaleStatus } from "./tailscale.js";

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), "../../test/fixtures/tailscale");
const fixture = (name: string) => readFileSync(join(fixtures, name), "utf8");

describe("Tailscale discovery", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "blixard-ts-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("offers the online peers tagged tag:blixard, on their IPv4 address, never itself", () => {
    const candidates = joinCandidates(parseTailscaleStatus(fixture("status-running.json")), { port: 7001 });
    // hv-3 is tagged but offline; laptop is online but untagged; hv-1 is this host.
    expect(candidates).toEqual([{ hostName: "hv-2", url: "https://100.64.0.2:7001" }]);
  });

  it("honours another tag", () => {
    const status = parseTailscaleStatus(fixture("status-running.json"));
    expect(joinCandidates(status, { tag: "tag:server", port: 9000 }).map((c) => c.url)).toEqual([
      "https://100.64.0.2:9000",
    ]);
  });

  it("says to run tailscale up when the node is logged out", () => {
    const status = parseTailscaleStatus(fixture("status-needs-login.json"));
    expect(() => joinCandidates(status, { port: 7001 })).toThrow(
      /state NeedsLogin: You are logged out.*tailscale up/,
    );
  });

  it("rejects output that is not Tailscale's status", () => {
    expect(() => parseTailscaleStatus("{}")).toThrow(/unexpected shape/);
    expect(() => parseTailscaleStatus("not json")).toThrow(/invalid JSON/);
  });

  it("runs the tailscale CLI with an argv array and parses its output", async () => {
    const fake = join(dir, "tailscale");
    writeFileSync(
      fake,
      `#!/bin/sh\n[ "$1 $2" = "status --json" ] || exit 3\ncat '${join(fixtures, "status-running.json")}'\n`,
    );
    chmodSync(fake, 0o755);
    const status = await readTailscaleStatus(fake);
    expect(status.BackendState).toBe("Running");
  });

  it("says clearly when tailscale is not installed", async () => {
    await expect(readTailscaleStatus(join(dir, "no-such-tailscale"))).rejects.toThrow(
      /needs the tailscale CLI, but .* is not installed or not on PATH/,
    );
  });

  it("reports the CLI's own error when it fails", async () => {
    const failing = join(dir, "tailscale-down");
    writeFileSync(
      failing,
      "#!/bin/sh\necho 'failed to connect to local tailscaled; it doesn'\"'\"'t appear to be running' >&2\nexit 1\n",
    );
    chmodSync(failing, 0o755);
    await expect(readTailscaleStatus(failing)).rejects.toThrow(
      /tailscale status --json failed: failed to connect to local tailscaled/,
    );
  });
});
