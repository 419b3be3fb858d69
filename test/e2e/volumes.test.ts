import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, image, TestNode, until } from "./harness.js";

const run = promisify(execFile);

interface VolumeJson {
  name: string;
  id: string;
  node: string;
  phase: string;
  state: string;
  attachments: { vm: string; readOnly: boolean; node: string }[];
}

/** Writes or checks a byte pattern in a volume's file through qemu's block layer, as qemu-io does. */
async function qemuIo(
  file: string,
  command: string,
  readOnly = false,
): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await run("qemu-io", [
      ...(readOnly ? ["-r"] : []),
      "-c",
      command,
      "-f",
      "qcow2",
      file,
    ]);
    return { ok: true, out: stdout };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("volumes with real qemu VMs", () => {
  let node: TestNode;
  const volume = (name: string) => JSON.parse(node.ok("volume", "get", name, "-o", "json")) as VolumeJson;
  const fileOf = (v: VolumeJson) => join(node.dataDir, "volumes", `${v.id}.qcow2`);

  function createVm(name: string, ...extra: string[]): void {
    const { kernel, initrd } = image();
    node.ok(
      "vm",
      "create",
      name,
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--memory",
      "256",
      ...extra,
      "--start",
    );
  }

  beforeAll(async () => {
    node = await TestNode.start();
  });
  afterAll(async () => node?.destroy());

  it("creates a local volume on the node, Available once its file exists", async () => {
    node.ok("volume", "create", "data", "--size", "64M");
    await until("the change", () => (volume("data").phase === "Available" ? true : undefined), 20_000);
    const data = volume("data");
    expect(data.state).toBe("Available");
    const info = JSON.parse((await run("qemu-img", ["info", "--output=json", fileOf(data)])).stdout);
    expect(info["virtual-size"]).toBe(64 * 1024 ** 2);
    expect(node.ok("volume", "list")).toMatch(/^data\s+local\s+64MiB\s+\S+\s+Available/m);
    expect(node.ok("node", "list")).toMatch(/VOLUME-SPACE[\s\S]*\d+Gi/);
    // Bytes a first user leaves on the volume (written through qemu's own block layer).
    expect((await qemuIo(fileOf(data), "write -P 0x5a 1M 1M")).ok).toBe(true);
  });

  it("attaches it to a VM as a virtio-blk disk (vda: the VM has no other), opened read-write by its jailed qemu", async () => {
    createVm("one", "--volume", "data");
    await until("the change", () => (node.vm("one").status.phase === "Running" ? true : undefined), 60_000);
    const console = () => readFileSync(join(node.vmDir("one"), "console.log"), "utf8");
    await until("the change", () => (/block devices: .*vda/.test(console()) ? true : undefined), 60_000);
    expect(console()).toMatch(/block devices: vda\b/);
    const data = volume("data");
    expect(data.state).toMatch(/^Attached to one on \S+/);
    // qemu holds the image's write lock: nobody else can write it while the VM runs.
    const locked = await qemuIo(fileOf(data), "write -P 0x11 0 4k");
    expect(locked.ok).toBe(false);
    expect(locked.out).toMatch(/lock/i);
  });

  it("refuses a second read-write attach and the volume's delete, naming the VM", () => {
    const { kernel, initrd } = image();
    const second = node.cli(
      "vm",
      "create",
      "two",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--volume",
      "data",
    );
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain("attached read-write to VM one");
    const del = node.cli("volume", "delete", "data");
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain("volume data is attached to VM one");
    expect(volume("data").phase).toBe("Available");
  });

  it("lets the next VM have the volume, with the first user's bytes, once the first VM is deleted", async () => {
    node.ok("vm", "delete", "one");
    await until("the change", () => (node.cli("vm", "get", "one").code !== 0 ? true : undefined), 60_000);
    expect(volume("data").state).toBe("Available");
    expect((await qemuIo(fileOf(volume("data")), "read -P 0x5a 1M 1M", true)).ok).toBe(true);
    createVm("two", "--volume", "data");
    await until("the change", () => (node.vm("two").status.phase === "Running" ? true : undefined), 60_000);
    expect(volume("data").state).toMatch(/^Attached to two on /);
  });

  it("shares a volume read-only between two running VMs, each seeing two disks (its base disk and the volume)", async () => {
    node.ok("vm", "delete", "two");
    await until("two is gone", () => (node.cli("vm", "get", "two").code !== 0 ? true : undefined), 60_000);
    const { initrd } = image();
    // The initrd as a raw base disk: any file will do, the guest only lists its block devices.
    createVm("r1", "--disk", initrd, "--volume", "data:ro");
    createVm("r2", "--disk", initrd, "--volume", "data:ro");
    for (const vm of ["r1", "r2"]) {
      await until(`${vm} runs`, () => (node.vm(vm).status.phase === "Running" ? true : undefined), 60_000);
      const console = () => readFileSync(join(node.vmDir(vm), "console.log"), "utf8");
      await until(
        `${vm} lists its disks`,
        () => (/block devices: /.test(console()) ? true : undefined),
        60_000,
      );
      expect(console()).toMatch(/block devices: vda vdb\b/);
    }
    expect(volume("data").state).toMatch(/^Attached to r1 \(ro\) on \S+, r2 \(ro\) on \S+$/);
    // Read-only attaches share qemu's lock: the host may read, not write.
    expect((await qemuIo(fileOf(volume("data")), "read -P 0x5a 1M 1M", true)).ok).toBe(true);
    expect((await qemuIo(fileOf(volume("data")), "write -P 0x11 0 4k")).ok).toBe(false);
    for (const vm of ["r1", "r2"]) node.ok("vm", "delete", vm);
    for (const vm of ["r1", "r2"]) {
      await until(`${vm} is gone`, () => (node.cli("vm", "get", vm).code !== 0 ? true : undefined), 60_000);
    }
  });

  it("keeps what a guest wrote to the volume (its vdb, behind the boot disk) for the next VM", async () => {
    const { initrd } = image();
    const port = await freePort();
    const probe = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: (await res.text()).trim() };
    };
    const boot = async (vm: string) => {
      createVm(
        vm,
        "--disk",
        initrd,
        "--volume",
        "data",
        "--forward",
        `${port}:80`,
        "--cmdline",
        "blixard.probe=1",
      );
      await until(
        `${vm} serves its probe`,
        async () => {
          const r = await probe("/cgi-bin/diskr?bytes=1").catch(() => undefined);
          return r?.status === 200 ? true : undefined;
        },
        90_000,
      );
    };
    await boot("writer");
    expect(await probe("/cgi-bin/diskw?text=written-by-writer")).toMatchObject({ status: 200 });
    // The guest's vdb is the volume: its bytes are in the volume's file, not in the boot disk's overlay.
    node.ok("vm", "delete", "writer");
    await until(
      "writer is gone",
      () => (node.cli("vm", "get", "writer").code !== 0 ? true : undefined),
      60_000,
    );
    const head = await run("qemu-io", ["-r", "-c", "read -v 0 32", "-f", "qcow2", fileOf(volume("data"))]);
    const hex = Buffer.from("written-by-wr")
      .toString("hex")
      .replace(/(..)(?!$)/g, "$1 ");
    expect(head.stdout).toContain(hex);
    await boot("reader");
    expect(await probe("/cgi-bin/diskr?bytes=64")).toEqual({ status: 200, body: "written-by-writer" });
    // The probe takes only the text: a shell injection or another device is refused.
    expect((await probe("/cgi-bin/diskw?text=x%3Breboot")).status).toBe(400);
    expect((await probe("/cgi-bin/diskw?text=a&dev=vda")).status).toBe(400);
    node.ok("vm", "delete", "reader");
    await until(
      "reader is gone",
      () => (node.cli("vm", "get", "reader").code !== 0 ? true : undefined),
      60_000,
    );
  });

  it("deletes the volume and its file once no VM holds it", async () => {
    const file = fileOf(volume("data"));
    node.ok("volume", "delete", "data");
    await until(
      "the change",
      () => (node.cli("volume", "get", "data").code !== 0 ? true : undefined),
      20_000,
    );
    expect((await qemuIo(file, "read 0 4k", true)).ok).toBe(false);
  });
});
