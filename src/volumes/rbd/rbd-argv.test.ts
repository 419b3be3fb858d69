import { describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import {
  cephBlocklistAdd,
  connectionArgs,
  qemuImgConvertToRbd,
  radosListPools,
  rbdArgv,
  rbdImageForVolume,
} from "./rbd-argv.js";
import { holdersOf, parseLocks, parseWatchers } from "./rbd-holders.js";

const conn = {
  confPath: "/etc/ceph/ceph.conf",
  user: "blixard",
  keyringPath: "/etc/ceph/ceph.client.blixard.keyring",
};

function rejects(fn: () => unknown): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(isBlixardError(error)).toBe(true);
}

describe("rbd argv", () => {
  it("connects with --conf, --id and the keyring's path, never a key", () => {
    expect(connectionArgs(conn)).toEqual([
      "--conf",
      "/etc/ceph/ceph.conf",
      "--id",
      "blixard",
      "--keyring",
      "/etc/ceph/ceph.client.blixard.keyring",
    ]);
    expect(connectionArgs({ confPath: "/c", user: "admin" })).toEqual(["--conf", "/c", "--id", "admin"]);
    const all = [
      ...rbdArgv.create(conn, "p", "i", 1 << 30),
      ...radosListPools(conn, 5),
      ...cephBlocklistAdd(conn, "127.0.0.1:0/123"),
    ];
    expect(all.some((a) => a.startsWith("--key=") || a === "--key")).toBe(false);
  });

  it("builds each operation's argv with sizes in bytes and pool/image@snap specs", () => {
    expect(rbdArgv.create(conn, "rbd", "blixard-vol-a1", 1 << 30).slice(6)).toEqual([
      "create",
      "--size",
      "1073741824B",
      "rbd/blixard-vol-a1",
    ]);
    expect(rbdArgv.deepCopy(conn, { pool: "p", image: "a", snapshot: "s1" }, "p", "b").slice(6)).toEqual([
      "deep",
      "cp",
      "--no-progress",
      "p/a@s1",
      "p/b",
    ]);
    expect(rbdArgv.lockRemove(conn, "p", "a", "auto 139847020941088", "client.4133").slice(6)).toEqual([
      "lock",
      "rm",
      "p/a",
      "auto 139847020941088",
      "client.4133",
    ]);
    expect(cephBlocklistAdd(conn, "127.0.0.1:0/1849283344").slice(6)).toEqual([
      "--connect-timeout",
      "10",
      "osd",
      "blocklist",
      "add",
      "127.0.0.1:0/1849283344",
    ]);
    expect(qemuImgConvertToRbd(conn, "/images/base.qcow2", "p", "a")).toEqual([
      "convert",
      "-O",
      "raw",
      "/images/base.qcow2",
      "rbd:p/a:id=blixard:conf=/etc/ceph/ceph.conf:keyring=/etc/ceph/ceph.client.blixard.keyring",
    ]);
  });

  it("derives image names from volume ids and refuses ids that are not names", () => {
    expect(rbdImageForVolume("0b1c2d")).toBe("blixard-vol-0b1c2d");
    rejects(() => rbdImageForVolume("../x"));
    rejects(() => rbdImageForVolume("a/b"));
  });

  it("refuses names that would pass for an option, another pool's image or a snapshot (attack: option and path injection)", () => {
    rejects(() => rbdArgv.create(conn, "--pool=other", "i", 4096));
    rejects(() => rbdArgv.create(conn, "p", "-i", 4096));
    rejects(() => rbdArgv.remove(conn, "p", "victim/other"));
    rejects(() => rbdArgv.remove(conn, "p", "img@snap"));
    rejects(() => rbdArgv.snapCreate(conn, "p", "i", "s 1"));
    rejects(() => rbdArgv.create(conn, "p", "i", 1000));
    rejects(() => connectionArgs({ ...conn, user: "admin --keyring=/x" }));
  });

  it("refuses paths that would add fields to qemu's rbd filename (attack: :key=value smuggled through a path)", () => {
    rejects(() => qemuImgConvertToRbd({ ...conn, confPath: "/c:mon_host=10.0.0.9" }, "/x", "p", "a"));
    rejects(() => qemuImgConvertToRbd(conn, "/x:conf=/tmp/evil", "p", "a"));
    rejects(() => qemuImgConvertToRbd(conn, "/images/../../etc/shadow", "p", "a"));
  });
});

describe("rbd holders", () => {
  it("reads watchers and locks as rbd prints them and merges them by client instance", () => {
    const watchers = parseWatchers(
      '{"watchers":[{"address":"127.0.0.1:0/1849283344","client":4133,"cookie":139847020941088}]}',
    );
    const locks = parseLocks(
      '[{"id":"auto 139847020941088","locker":"client.4133","address":"127.0.0.1:0/1849283344"}]',
    );
    expect(holdersOf(watchers, locks)).toEqual([
      { client: "client.4133", address: "127.0.0.1:0/1849283344" },
    ]);
    expect(holdersOf(parseWatchers('{"watchers":[]}'), parseLocks(""))).toEqual([]);
    expect(holdersOf([], parseLocks('[{"id":"auto 1","locker":"client.9","address":"[::1]:0/77"}]'))).toEqual(
      [{ client: "client.9", address: "[::1]:0/77" }],
    );
  });

  it("refuses addresses and lock ids that are not Ceph's (attack: an option smuggled into the blocklist call)", () => {
    rejects(() => parseWatchers('{"watchers":[{"address":"--yes-i-really-mean-it","client":1}]}'));
    rejects(() => parseLocks('[{"id":"-x","locker":"client.1","address":"127.0.0.1:0/1"}]'));
    rejects(() => parseLocks('[{"id":"auto 1","locker":"osd.0","address":"127.0.0.1:0/1"}]'));
    rejects(() => parseWatchers("not json"));
  });
});
