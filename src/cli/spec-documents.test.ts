import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { equals, fromJson, toJson } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { specInputFromProto } from "../api/convert.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { VmSpecSchema } from "../gen/blixard/v1/vm_pb.js";
import { buildSpec, readSpecDocuments, withFlags } from "./spec-input.js";

describe("spec files of several documents (apply -f)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "blixard-docs-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it("reads YAML documents separated by ---, skipping empty ones, each with its paths made absolute", () => {
    const docs = readSpecDocuments(
      file("vms.yaml", "name: a\nkernel: k/vmlinuz\n---\n# nothing\n---\nname: b\n"),
    );
    expect(docs).toEqual([{ name: "a", kernel: join(dir, "k/vmlinuz") }, { name: "b" }]);
  });

  it("reads TOML [[vm]] tables and a JSON array, and a single spec of either", () => {
    const toml = readSpecDocuments(
      file("vms.toml", '[[vm]]\nname = "a"\nmemory = 512\n[[vm]]\nname = "b"\n'),
    );
    expect(toml).toEqual([{ name: "a", memory: 512 }, { name: "b" }]);
    expect(readSpecDocuments(file("one.toml", 'name = "a"\n'))).toEqual([{ name: "a" }]);
    expect(readSpecDocuments(file("vms.json", '[{"name":"a"},{"name":"b"}]'))).toHaveLength(2);
  });

  it("names the document that is not a table, and refuses several documents to vm create -f", () => {
    expect(() => readSpecDocuments(file("bad.yaml", "name: a\n---\n- 1\n"))).toThrow(
      /document 2 of spec file .* must hold a table/,
    );
    const two = file("two.yaml", "name: a\n---\nname: b\n");
    expect(() => buildSpec("a", { file: two })).toThrow(/holds 2 documents; .*blixard apply -f/);
  });

  it("lays update flags over the current spec, keeping every field without a flag", () => {
    const current = {
      name: "web",
      kernel: "/k",
      memory: 256,
      cmdline: "quiet",
      forwards: [{ host: 8080, guest: 80 }],
    };
    const spec = withFlags(current, { memory: "512" });
    expect(spec).toMatchObject({ name: "web", kernel: "/k", memory: 512, cmdline: "quiet" });
    expect(spec.forwards.map((f) => [f.host, f.guest])).toEqual([[8080, 80]]);
  });

  it("reads examples/apply.yaml into specs the node accepts", () => {
    const path = join(import.meta.dirname, "../../examples/apply.yaml");
    const specs = readSpecDocuments(path).map((doc) => withFlags(doc, {}));
    expect(specs.map((s) => s.name)).toEqual(["web", "worker"]);
    for (const spec of specs) {
      // The node fills in its default image's kernel for a spec without one.
      expect(() => parseVmSpec({ ...specInputFromProto(spec), kernel: "/k" })).not.toThrow();
    }
  });

  it("turns a spec as GetVm returns it back into the same spec when no flag is given (vm update with no change)", () => {
    const current = fromJson(VmSpecSchema, {
      name: "web",
      vcpus: 2,
      memory: 512,
      driver: "qemu",
      kernel: "/k",
      initrd: "/i",
      disk: "/d.qcow2",
      cmdline: "quiet",
      forwards: [
        { host: 8080, guest: 80, protocol: "tcp" },
        { host: 5353, guest: 53, protocol: "udp" },
      ],
      healthCheck: { type: "http", port: 80, path: "/ready", intervalSeconds: 0.5, failureThreshold: 5 },
      restartPolicy: "on-failure",
      restartBackoff: { initialSeconds: 2, maxSeconds: 8 },
      placement: { strategy: "spread", constraints: ["zone=eu"], node: "n1" },
    });
    const again = withFlags(toJson(VmSpecSchema, current) as Record<string, unknown>, {});
    expect(equals(VmSpecSchema, again, current)).toBe(true);
  });
});
