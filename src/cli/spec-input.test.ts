import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { UsageError } from "./cli-error.js";
import { buildSpec } from "./spec-input.js";

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
