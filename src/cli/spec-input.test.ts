import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildSpec } from "./spec-input.js";
import { UsageError } from "./usage-error.js";

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), "../../test/fixtures");

describe("buildSpec", () => {
  it("reads a TOML spec and resolves its paths against the file's directory", () => {
    const spec = buildSpec("web", { file: join(fixtures, "web.toml") }, "/somewhere/else");
    expect(spec).toMatchObject({
      name: "web",
      vcpus: 2,
      memory: 512,
      kernel: join(fixtures, "images/vmlinuz"),
      initrd: join(fixtures, "images/initrd.img"),
      restartPolicy: "on-failure",
    });
    expect(spec.forwards.map((f) => [f.host, f.guest, f.protocol])).toEqual([
      [8080, 80, "tcp"],
      [2222, 22, ""],
    ]);
    expect(spec.healthCheck).toMatchObject({ type: "http", port: 80, intervalSeconds: 1 });
  });

  it("reads a YAML spec", () => {
    const spec = buildSpec("web", { file: join(fixtures, "web.yaml") });
    expect(spec.healthCheck).toMatchObject({ type: "console", pattern: "BLIXARD-READY" });
    expect(spec.forwards[0]).toMatchObject({ host: 8081, guest: 80 });
  });

  it("lets flags override the file and resolves flag paths against the working directory", () => {
    const spec = buildSpec(
      "web",
      { file: join(fixtures, "web.toml"), vcpus: "4", kernel: "k/vmlinuz" },
      "/work",
    );
    expect(spec).toMatchObject({ vcpus: 4, kernel: "/work/k/vmlinuz" });
  });

  // A typo nested in any table of any format is an error naming the key, never a silent default.
  it.each([
    ["typo.toml", 'vcpus = 1\n[placement]\nzone = "eu"\n', /Placement .*key "zone" is unknown/],
    [
      "typo.yaml",
      "healthCheck:\n  type: console\n  pattern: x\n  intervall: 2\n",
      /HealthCheck .*key "intervall" is unknown/,
    ],
    ["typo.json", '{"microvm": {"runnner": "/r"}}', /MicrovmSpec .*key "runnner" is unknown/],
    [
      "typo2.toml",
      '[[forwards]]\nhost = 8080\nguest = 80\nproto = "udp"\n',
      /PortForward .*key "proto" is unknown/,
    ],
  ])("rejects a nested unknown key in %s, naming it", (file, text, why) => {
    const dir = mkdtempSync(join(tmpdir(), "blixard-spec-"));
    try {
      writeFileSync(join(dir, file), text);
      expect(() => buildSpec("web", { file: join(dir, file) })).toThrow(why);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects an unknown field instead of dropping it", () => {
    expect(() => buildSpec("web", { file: join(fixtures, "typo.json") })).toThrow(/vcpu/);
  });

  it("rejects a name that disagrees with the file", () => {
    expect(() => buildSpec("api", { file: join(fixtures, "web.yaml") })).toThrow(UsageError);
  });

  it.each(["8080", "8080:", "a:b", "8080:80/sctp"])(
    "rejects the forward %j with the expected format",
    (forward) => {
      expect(() => buildSpec("web", { forward: [forward] })).toThrow(/HOST:GUEST/);
    },
  );

  it("rejects a non-numeric --vcpus", () => {
    expect(() => buildSpec("web", { vcpus: "two" })).toThrow(/--vcpus must be a whole number/);
  });

  it("names a missing spec file", () => {
    expect(() => buildSpec("web", { file: "/nonexistent/spec.toml" })).toThrow(
      /cannot read spec file .*ENOENT/,
    );
  });
});

describe("buildSpec for the microvm-nix driver", () => {
  it("reads the microvm table of a spec file, resolving its paths against the file", () => {
    const spec = buildSpec("web", { file: join(fixtures, "microvm-web.toml") }, "/elsewhere");
    expect(spec.driver).toBe("microvm-nix");
    expect(spec.microvm).toMatchObject({
      hypervisor: "qemu",
      modules: [join(fixtures, "nix/web.nix")],
      config: "services.nginx.enable = true;",
      shares: [{ tag: "site", source: join(fixtures, "site"), mountPoint: "/srv/site", proto: "virtiofs" }],
      volumes: [{ image: "var.img", mountPoint: "/var", size: 256 }],
    });
  });

  it("turns the flags into the microvm table and makes flake paths absolute", () => {
    const spec = buildSpec(
      "web",
      {
        flake: "path:./vms#api",
        nixosModule: ["extra.nix"],
        share: ["source=data,mount=/var/data,proto=virtiofs"],
        volume: ["image=var.img,mount=/var,size=128"],
        interface: ["type=macvtap,id=vm-web,mac=02:00:00:00:00:01,link=eth0,mode=bridge"],
      },
      "/work",
    );
    expect(spec.driver).toBe("microvm-nix");
    expect(spec.microvm).toMatchObject({
      flake: "path:/work/vms#api",
      modules: ["/work/extra.nix"],
      shares: [{ tag: "data", source: "/work/data", mountPoint: "/var/data", proto: "virtiofs" }],
      volumes: [{ image: "var.img", mountPoint: "/var", size: 128 }],
      interfaces: [
        {
          type: "macvtap",
          id: "vm-web",
          mac: "02:00:00:00:00:01",
          macvtap: { link: "eth0", mode: "bridge" },
        },
      ],
    });
  });

  it("leaves flake URLs alone and keeps an explicit --driver", () => {
    const spec = buildSpec("web", { driver: "microvm-nix", flake: "github:me/vms#web" });
    expect(spec.microvm?.flake).toBe("github:me/vms#web");
    expect(buildSpec("web", { driver: "microvm-nix" }).microvm).toBeUndefined();
  });

  it.each([
    ["share", "mount=/data"],
    ["volume", "image=var.img,mount=/var"],
    ["interface", "type=tap,id=vm0"],
    ["share", "source=/x,mount=/y,colour=red"],
  ])("rejects --%s %j with the expected format", (flag, value) => {
    expect(() => buildSpec("web", { [flag]: [value] })).toThrow(UsageError);
  });
});

describe("--volume", () => {
  it("adds volumes after those of the spec file, read-only with :ro and the root disk with :boot", () => {
    const spec = buildSpec("web", { volume: ["data", "shared:ro", "root:boot"] });
    expect(spec.volumes.map((v) => [v.name, v.readOnly, v.boot])).toEqual([
      ["data", false, false],
      ["shared", true, false],
      ["root", false, true],
    ]);
  });

  it("refuses an option it does not know, naming the accepted forms", () => {
    expect(() => buildSpec("web", { volume: ["data:rw"] })).toThrow(/NAME, NAME:ro/);
  });
});

describe("volumes in a spec file", () => {
  it("reads them from YAML, with the flags' volumes after them", () => {
    const dir = mkdtempSync(join(tmpdir(), "blixard-spec-"));
    try {
      const file = join(dir, "web.yaml");
      writeFileSync(file, "kernel: /k\nvolumes:\n  - name: data\n  - name: shared\n    readOnly: true\n");
      const spec = buildSpec("web", { file, volume: ["extra"] });
      expect(spec.volumes.map((v) => [v.name, v.readOnly])).toEqual([
        ["data", false],
        ["shared", true],
        ["extra", false],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
