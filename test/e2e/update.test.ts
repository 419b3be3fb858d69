import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, isAlive, TestNode, until } from "./harness.js";

/** The `-m` argument of a running qemu: what memory the guest really has. */
function memoryArg(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  return args[args.indexOf("-m") + 1]!;
}

// Two boots in all: the create, and the restart that applies the update.
describe("changing a VM after create: vm update and apply -f, with a real qemu VM", () => {
  let node: TestNode;
  let dir: string;

  beforeAll(async () => {
    node = await TestNode.start();
    dir = mkdtempSync(join(tmpdir(), "blixard-apply-"));
  });
  afterAll(async () => {
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("shows a dry run's diff and changes nothing", () => {
    const { kernel, initrd } = image();
    node.ok("vm", "create", "web", "--kernel", kernel, "--initrd", initrd, "--memory", "256", "--start");
    const pid = node.vm("web").status.pid!;
    expect(memoryArg(pid)).toBe("256M");
    const table = node.ok("vm", "update", "web", "--memory", "320", "--dry-run");
    expect(table).toContain("vm/web would be updated (the VM would restart to apply it)");
    expect(table).toMatch(/^memory\s+256\s+320$/m);
    const json = JSON.parse(node.ok("vm", "update", "web", "--memory", "320", "--dry-run", "-o", "json"));
    expect(json).toMatchObject({ action: "updated", dryRun: true, restart: true });
    expect(json.changes).toEqual([{ path: "memory", old: 256, new: 320 }]);
    expect(node.vm("web").spec).toMatchObject({ memory: 256 });
    expect(node.vm("web").status.pid).toBe(pid);
  });

  it("applies a file of two documents: creates the missing VM, updates the other and restarts it with the new memory", async () => {
    const { kernel, initrd } = image();
    const before = node.vm("web").status.pid!;
    const file = join(dir, "vms.yaml");
    writeFileSync(
      file,
      [
        `name: web\nkernel: ${kernel}\ninitrd: ${initrd}\nmemory: 320\n`,
        `name: db\nkernel: ${kernel}\ninitrd: ${initrd}\nmemory: 128\n`,
      ].join("---\n"),
    );
    const out = node.ok("apply", "-f", file);
    expect(out).toContain("vm/web updated (restarting to apply it)");
    expect(out).toContain("vm/db created");
    const restarted = await until(
      "web restarted",
      () => {
        const vm = node.vm("web");
        return vm.status.phase === "Running" && vm.status.pid !== before ? vm : undefined;
      },
      180_000,
    );
    expect(isAlive(before)).toBe(false);
    expect(memoryArg(restarted.status.pid!)).toBe("320M");
    expect(node.vm("db")).toMatchObject({ desiredState: "stopped", spec: { memory: 128 } });
    const events = node.ok("events", "--vm", "web");
    expect(events).toMatch(/updated.*spec changed: memory; restarting to apply it/);

    // A restart policy is read live: the VM keeps running, same process.
    const live = node.ok("vm", "update", "web", "--restart", "on-failure");
    expect(live).toMatch(/^vm\/web updated\nFIELD\s+OLD\s+NEW\nrestartPolicy\s+always\s+on-failure\n$/);
    expect(node.vm("web").status.pid).toBe(restarted.status.pid);
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("memory: 320\n", "memory: 320\nrestartPolicy: on-failure\n"),
    );

    // Applying the same file again changes nothing.
    const again = node.ok("apply", "-f", file);
    expect(again).toContain("vm/web unchanged");
    expect(again).toContain("vm/db unchanged");
  });

  it("refuses an update a create would refuse (a port out of range), changing nothing, and leaves the VM running", () => {
    const pid = node.vm("web").status.pid!;
    const res = node.cli("vm", "update", "web", "--restart", "always", "--forward", "70000:80");
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/spec\.forwards\.0\.host/);
    expect(node.vm("web").status.pid).toBe(pid);
    expect(node.vm("web").spec).toMatchObject({ restartPolicy: "on-failure" });
  });

  it("applies the valid documents of a file when one is refused, reports each, and fails; a dry run creates nothing", () => {
    const { kernel, initrd } = image();
    const file = join(dir, "mixed.yaml");
    writeFileSync(
      file,
      [
        `name: db\nkernel: ${kernel}\ninitrd: ${initrd}\nmemory: 1\n`,
        `name: cache\nkernel: ${kernel}\ninitrd: ${initrd}\n`,
      ].join("---\n"),
    );
    // The dry run refuses db as the real run will, and says what it would do with cache.
    const dry = node.cli("apply", "-f", file, "--dry-run");
    expect(dry.code).not.toBe(0);
    expect(dry.stdout).toMatch(/^vm\/db failed: .*spec\.memory/m);
    expect(dry.stdout).toContain("vm/cache would be created");
    expect(node.cli("vm", "get", "cache").code).not.toBe(0);
    const res = node.cli("apply", "-f", file, "-o", "json");
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("1 of 2 documents");
    const results = JSON.parse(res.stdout) as { name: string; action: string; error?: string }[];
    expect(results.map((r) => [r.name, r.action])).toEqual([
      ["db", "failed"],
      ["cache", "created"],
    ]);
    expect(results[0]!.error).toContain("spec.memory");
    expect(node.vm("db").spec).toMatchObject({ memory: 128 });
  });

  it("refuses an operator's update that points the kernel at a host file, and any update from a viewer", () => {
    // An operator may boot images from the node's image directory only.
    const images = join(node.dataDir, "images", "op");
    mkdirSync(images, { recursive: true });
    copyFileSync(image().kernel, join(images, "vmlinuz"));
    const operator = node.ok("token", "create", "ops", "--role", "operator").trim();
    const viewer = node.ok("token", "create", "audit", "--role", "viewer").trim();
    const as = (token: string, ...args: string[]) => node.cliEnv({ BLIXARD_TOKEN: token }, ...args);
    expect(as(operator, "vm", "create", "op-vm", "--kernel", join(images, "vmlinuz")).code).toBe(0);
    // The attack: boot /etc/shadow as a kernel, to read it back through the guest or the console.
    const attack = as(operator, "vm", "update", "op-vm", "--kernel", "/etc/shadow");
    expect(attack.code).not.toBe(0);
    expect(attack.stderr).toMatch(/spec\.kernel: host path \/etc\/shadow is outside .* needs the admin role/);
    const denied = as(viewer, "vm", "update", "op-vm", "--memory", "64");
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/operator/);
    expect(as(operator, "vm", "update", "op-vm", "--memory", "64").stdout).toContain("vm/op-vm updated");
    expect(node.vm("op-vm").spec).toMatchObject({ kernel: join(images, "vmlinuz"), memory: 64 });
    const events = node.ok("events", "--vm", "op-vm");
    expect(events).toMatch(/updated.*ops.*spec changed: memory/);
  });
});
