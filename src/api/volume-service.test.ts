import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { Role } from "../core/roles.js";
import { nodeRecordCodec } from "../core/store-codecs.js";
import { VolumeService } from "../gen/blixard/v1/volume_pb.js";
import { SeededRandom } from "../sim/seeded-random.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { withErrorMapping } from "./error-mapping.js";
import { authorize, principalKey } from "./principal-context.js";
import { VolumeRepository } from "./volume-repository.js";
import { volumeServiceImpl } from "./volume-service.js";

const GiB = 1024n ** 3n;

describe("VolumeService", () => {
  let store: SqliteStore;

  beforeEach(async () => {
    const clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    await store.put(
      keys.node("node-a"),
      nodeRecordCodec.encode({
        id: "node-a",
        apiUrl: "https://127.0.0.1:7000",
        labels: {},
        capacity: { vcpus: 1, memoryMiB: 1024, drivers: ["qemu"] },
        startedAt: "2026-12-03T00:00:00.000Z",
      }),
    );
  });

  afterEach(async () => {
    await store.close();
  });

  function client(role: Role) {
    const impl = volumeServiceImpl(
      new VolumeRepository(store, new ManualClock(), new SeededRandom(3), "node-a"),
    );
    const as: Interceptor = (next) => (req) => {
      req.contextValues.set(principalKey, { name: `${role}-token`, role });
      return next(req);
    };
    return createClient(
      VolumeService,
      createRouterTransport((router) => router.service(VolumeService, withErrorMapping(impl)), {
        router: { interceptors: [as, authorize] },
      }),
    );
  }

  async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
    try {
      await promise;
    } catch (err) {
      return ConnectError.from(err);
    }
    throw new Error("expected a rejection");
  }

  it("creates a local volume on the serving node and shows it Creating", async () => {
    const { volume } = await client("operator").createVolume({ name: "data", sizeBytes: GiB });
    expect(volume).toMatchObject({ name: "data", backend: "local", node: "node-a", state: "Creating" });
    const { volumes } = await client("viewer").listVolumes({});
    expect(volumes.map((v) => v.name)).toEqual(["data"]);
  });

  it("refuses a host image to copy from an operator (it could read /etc/shadow into a volume)", async () => {
    const err = await rejection(
      client("operator").createVolume({ name: "leak", sizeBytes: GiB, fromImage: "/etc/shadow" }),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain("fromImage: copying a host image needs the admin role");
    expect(await store.get(keys.volume("leak"))).toBeUndefined();
    const { volume } = await client("admin").createVolume({
      name: "ok",
      sizeBytes: GiB,
      fromImage: "/srv/base.img",
    });
    expect(volume?.from).toBe("image /srv/base.img");
  });

  it("refuses a viewer's create, and names the field of an invalid request", async () => {
    expect((await rejection(client("viewer").createVolume({ name: "x", sizeBytes: GiB }))).code).toBe(
      Code.PermissionDenied,
    );
    const tiny = await rejection(client("operator").createVolume({ name: "x", sizeBytes: 10n }));
    expect(tiny.code).toBe(Code.InvalidArgument);
    expect(tiny.rawMessage).toContain("sizeBytes: must be at least 1 MiB");
    const bad = await rejection(client("operator").createVolume({ name: "../x", sizeBytes: GiB }));
    expect(bad.rawMessage).toContain("name:");
    const pool = await rejection(
      client("operator").createVolume({ name: "x", sizeBytes: GiB, backend: "rbd" }),
    );
    expect(pool.rawMessage).toContain("pool: an rbd volume needs a pool");
    const snap = await rejection(client("operator").snapshotVolume({ name: "x", snapshot: "-l" }));
    expect(snap.rawMessage).toContain("snapshot:");
  });
});
