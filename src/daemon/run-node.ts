/**
 * `blixard node`: wires the production adapters (SQLite or etcd store, managed etcd member, qemu
 * driver, system clock, pino) to the agent and the API, and serves them. This and sim/ are the only
 * places that construct adapters.
 */
import { existsSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { bearerTokenChecker, nodeCertificateChecker } from "../api/authenticator.js";
import { clusterServiceImpl } from "../api/cluster-service.js";
import { withErrorMapping } from "../api/error-mapping.js";
import { EventLog } from "../api/event-log.js";
import { JoinTokens } from "../api/join-tokens.js";
import { listNodes, nodeServiceImpl } from "../api/node-service.js";
import { authorize, principalValues } from "../api/principal-context.js";
import { serviceHandlers } from "../api/service-handlers.js";
import { ServiceRepository } from "../api/service-repository.js";
import { TokenRepository } from "../api/token-repository.js";
import { tokenServiceImpl } from "../api/token-service.js";
import { rejectUnknownFields } from "../api/unknown-fields.js";
import { VmRepository } from "../api/vm-repository.js";
import { type DefaultImage, vmServiceImpl } from "../api/vm-service.js";
import { VolumeRepository } from "../api/volume-repository.js";
import { volumeServiceImpl } from "../api/volume-service.js";
import { readLeader } from "../control/leader-election.js";
import { cidrOf } from "../core/cluster-network.js";
import { DriverSet } from "../drivers/driver-set.js";
import { MicrovmNixDriver } from "../drivers/microvm-nix/microvm-nix-driver.js";
import { findOnPath, microvmNixOffer } from "../drivers/microvm-nix/offer.js";
import { detectAccel } from "../drivers/qemu/accel.js";
import { QemuDriver } from "../drivers/qemu/qemu-driver.js";
import { quarantineDirFor } from "../drivers/shared/quarantine.js";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { NodeService } from "../gen/blixard/v1/node_pb.js";
import { ServiceService } from "../gen/blixard/v1/service_pb.js";
import { TokenService } from "../gen/blixard/v1/token_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { VolumeService } from "../gen/blixard/v1/volume_pb.js";
import { nftRunner } from "../net/services/nft-runner.js";
import { NodeServices } from "../node/node-services.js";
import { certFingerprint } from "../pki/fingerprint.js";
import { pkiLayout } from "../pki/pki-files.js";
import { cryptoRandom } from "../platform/crypto-random.js";
import { netProber } from "../platform/net-prober.js";
import { createPinoLogger } from "../platform/pino-logger.js";
import { systemClock } from "../platform/system-clock.js";
import { AddressPool } from "../state/address-pool.js";
import { ensureClusterNetwork } from "../state/cluster-network-store.js";
import { migrateLegacyPlacements } from "../state/legacy-placements.js";
import { GroupCommitStore } from "../store/group-commit/group-commit-store.js";
import { LocalVolumeBackend } from "../volumes/local/local-backend.js";
import { checkHostFiles } from "./admission.js";
import { limitRequestBodies } from "./body-limit.js";
import { prepareBridgeNetwork } from "./bridge-network.js";
import { setupCeph } from "./ceph-setup.js";
import { type Cleanup, runCleanups } from "./cleanups.js";
import { clusterControl } from "./cluster/cluster-control.js";
import { forgetMembership } from "./cluster/cluster-file.js";
import { nodeHosts } from "./cluster/node-hosts.js";
import { standaloneNodePki } from "./cluster/node-pki.js";
import { startConsoleLogRotator } from "./console-log-rotator.js";
import { ensureDataDir, layout, loadOrCreateNodeId, loadOrCreateToken, writeSecretFile } from "./data-dir.js";
import { driverLogSource } from "./driver-log-source.js";
import { refuseEmptyStoreWithVms } from "./empty-store-guard.js";
import { forwardAdmission } from "./forward-admission.js";
import { type GatewayServer, peerHandler, startGatewayServer } from "./function-gateway-server.js";
import { registerFunctionMetrics } from "./function-metrics.js";
import { routeFunctions } from "./function-routes.js";
import { createHostCheck } from "./host-check.js";
import { listen } from "./http-server.js";
import { setupIsolation } from "./isolation-setup.js";
import { settleLocalAdminToken } from "./local-admin.js";
import { createMetrics } from "./metrics.js";
import { acquireNodeLock } from "./node-lock.js";
import { advertisedHost, isLoopback, type NodeOptions } from "./node-options.js";
import { protocolErrorsAsInvalidArgument } from "./protocol-errors.js";
import { createRequestHandler } from "./request-handler.js";
import { routedLogSource } from "./routed-log-source.js";
import { openStoreBackend } from "./store-backend.js";
import { registerSqliteStoreMetrics } from "./store-metrics.js";
import { volumeSpace } from "./volume-space.js";
import { startNodeWatchdog } from "./watchdog/node-watchdog.js";

export interface RunningNode {
  nodeId: string;
  url: string;
  /** Stops serving and following the store; VMs keep running unless the node was told to stop them. */
  shutdown(): Promise<void>;
  /** Settles when the node has stopped: "left" after `blixard cluster leave`, else "shutdown". */
  stopped: Promise<"left" | "shutdown">;
}

export async function runNode(options: NodeOptions): Promise<RunningNode> {
  const log = createPinoLogger({ level: options.logLevel });
  const dirs = layout(options.dataDir);
  ensureDataDir(dirs);
  const releaseLock = acquireNodeLock(dirs.lockFile, dirs.lockPidFile);
  const cleanups: Cleanup[] = [releaseLock];
  try {
    const nodeId = loadOrCreateNodeId(dirs, () => `node-${cryptoRandom.hex(4)}`);
    const joining = options.join !== undefined || options.discover !== undefined;
    // A join token is for joining only; it never becomes this node's API credential.
    const freshToken = !existsSync(dirs.tokenFile) && (joining || options.token === undefined);
    const token = loadOrCreateToken(dirs, joining ? undefined : options.token);
    const pki = pkiLayout(dirs.root);
    const accel = detectAccel(options.accel);
    log.info({ accel: accel.accel, reason: accel.reason }, "chose qemu acceleration");
    const isolation = await setupIsolation(options.isolation, dirs, log);
    // The RBD backend (ceph?.backend) is what the volume code attaches and fences through (issue 15).
    const ceph = await setupCeph(options, log);

    const backend = await openStoreBackend({
      options,
      dirs,
      nodeId,
      joinToken: joining ? options.token : undefined,
      pki,
      logger: log,
      cleanups,
    });
    const { store } = backend;
    const managed = backend.kind === "etcd-managed" ? backend.managed : undefined;
    log.info({ store: backend.kind }, "store connected");
    await refuseEmptyStoreWithVms(store, dirs.vmsDir, options.acceptEmptyStore);
    await migrateLegacyPlacements(store, log);
    const network = await ensureClusterNetwork(store, {
      ...(options.vmCidr === undefined ? {} : { vmCidr: options.vmCidr }),
      ...(options.serviceCidr === undefined ? {} : { serviceCidr: options.serviceCidr }),
      ...(options.clusterDomain === undefined ? {} : { domain: options.clusterDomain }),
    });
    // Guests' console logs stay bounded on disk while the node runs (rotated at start, then every second).
    const rotator = startConsoleLogRotator({
      vmsDir: dirs.vmsDir,
      maxBytes: options.consoleLogMaxBytes,
      clock: systemClock,
      logger: log,
    });
    cleanups.unshift(() => rotator.stop());
    const qemu = new QemuDriver({
      vmsDir: dirs.vmsDir,
      accel: accel.accel,
      logger: log,
      clock: systemClock,
      ...(isolation.jail ? { jail: isolation.jail } : {}),
      passtBinary: isolation.passtBinary,
    });
    const microvmNix = microvmNixOffer(options.microvmNix, findOnPath("nix"));
    log.info({ offered: microvmNix.offered, reason: microvmNix.reason }, "microvm-nix driver");
    const driver = new DriverSet(
      microvmNix.offered
        ? [
            qemu,
            new MicrovmNixDriver({
              vmsDir: dirs.vmsDir,
              logger: log,
              clock: systemClock,
              ...(isolation.jail ? { jail: isolation.jail } : {}),
              // microvm.nix runners use KVM when the host has it: their jail must let them open it.
              ...(accel.accel === "kvm" ? { devices: ["/dev/kvm"] } : {}),
            }),
          ]
        : [qemu],
      dirs.vmsDir,
    );
    const addresses = new AddressPool(store, cidrOf(network.vmCidr), cryptoRandom);
    const repo = new VmRepository(store, systemClock, nodeId, addresses);
    // TLS on the API in a cluster (loopback included) and whenever it binds beyond loopback.
    const tls =
      managed?.tls ??
      (isLoopback(options.bind.host)
        ? undefined
        : await standaloneNodePki({
            pki,
            nodeId,
            hosts: nodeHosts(options),
            now: new Date(systemClock.now()),
            ...(options.store.kind === "etcd" && options.store.endpoints[0]?.startsWith("https://")
              ? { shareThrough: store }
              : {}),
          }));
    const joinTokens = tls
      ? new JoinTokens(store, systemClock, cryptoRandom, () => certFingerprint(tls.caPem))
      : undefined;
    if (managed?.formed && joinTokens) await writeBootstrapJoinToken(joinTokens, dirs.root);
    const metrics = createMetrics(
      () => repo.list(),
      store instanceof GroupCommitStore ? store.stats : undefined,
      quarantineDirFor(dirs.vmsDir),
    );
    if (backend.kind === "sqlite") {
      const { sqlite, compactor } = backend;
      registerSqliteStoreMetrics(metrics.registry, {
        status: () => sqlite.status(),
        compactor: compactor.stats,
      });
    }

    // The node's own ports are never forwarded to a VM (the API port is known once it listens).
    let apiPort = options.bind.port;
    const ownPorts = () => [
      { port: apiPort, what: "API port" },
      ...(managed
        ? [
            { port: managed.file.clientPort, what: "etcd client port" },
            { port: managed.file.peerPort, what: "etcd peer port" },
          ]
        : []),
    ];
    const checkForwards = forwardAdmission(ownPorts);
    const service = vmServiceImpl({
      repo,
      clock: systemClock,
      nodeId,
      admission: async (spec) => [...(await checkHostFiles(spec)), ...(await checkForwards(spec))],
      defaultImage: async () => defaultImage(dirs.defaultImageDir),
      events: new EventLog(store),
      imageRoot: dirs.imagesDir,
      // A VM's console lives on the node that runs it; other nodes fetch it from there.
      logs: routedLogSource({
        nodeId,
        local: driverLogSource(driver),
        token,
        ...(tls ? { tls } : {}),
        ownerOf: async (name) => (await repo.get(name)).status.node,
        apiUrlOf: async (id) => (await listNodes(store)).find((view) => view.id === id)?.apiUrl,
      }),
    });
    const leader = async () => (await readLeader(store))?.leader;
    const nodes = nodeServiceImpl({ store, leader, clock: systemClock, writer: nodeId });
    let resolveStopped: (how: "left" | "shutdown") => void = () => {};
    const stopped = new Promise<"left" | "shutdown">((resolve) => {
      resolveStopped = resolve;
    });
    let closing: Promise<void> | undefined;
    const shutdown = (how: "left" | "shutdown" = "shutdown") => {
      closing ??= runCleanups(cleanups, log).then(() => {
        if (how === "left") {
          watchdog?.stop();
          forgetMembership(dirs);
        }
        resolveStopped(how);
      });
      return closing;
    };
    const cluster = clusterServiceImpl({
      nodeId,
      leader,
      ...clusterControl({
        nodeId,
        dirs,
        pki,
        clock: systemClock,
        ...(joinTokens ? { joinTokens } : {}),
        random: cryptoRandom,
        logger: log,
        ...(backend.kind === "etcd-managed" ? { managed: backend.managed } : {}),
        ...(backend.kind === "etcd-external" ? { external: backend.external } : {}),
        ...(backend.kind === "sqlite" ? { sqlite: backend.sqlite } : {}),
        ownedVms: async () =>
          (await repo.list()).filter((vm) => vm.status.node === nodeId && !vm.deleting).map((vm) => vm.name),
        onLeft: () => {
          log.info({ nodeId }, "left the cluster; stopping the node");
          void shutdown("left");
        },
      }),
    });
    const tokens = new TokenRepository(store, systemClock, cryptoRandom);
    await settleLocalAdminToken({
      tokens,
      nodeId,
      token,
      tokenFile: dirs.tokenFile,
      fresh: freshToken,
      restoring: options.restore !== undefined,
      logger: log,
    });
    const connect = connectNodeAdapter({
      // Bounds what a request may make the node read or inflate, and refuses fields it does not know.
      readMaxBytes: options.maxRequestBytes,
      jsonOptions: { ignoreUnknownFields: false },
      // Every RPC is authorized against core/policy.ts first, for the principal the handler bound.
      interceptors: [authorize, rejectUnknownFields],
      contextValues: principalValues,
      routes: (router) => {
        router.service(VmService, withErrorMapping(service));
        router.service(NodeService, withErrorMapping(nodes));
        router.service(ClusterService, withErrorMapping(cluster));
        router.service(TokenService, withErrorMapping(tokenServiceImpl(tokens)));
        const services = new ServiceRepository(store, systemClock, cryptoRandom, nodeId);
        const reservedPorts = () => ownPorts().map((p) => ({ ...p, what: `this node's ${p.what}` }));
        router.service(
          ServiceService,
          withErrorMapping(serviceHandlers({ repo: services, store, reservedPorts })),
        );
        routeFunctions(router, {
          store,
          clock: systemClock,
          nodeId,
          imageRoot: dirs.imagesDir,
          defaultImage: async () => defaultImage(dirs.defaultImageDir),
        });
        const volumes = new VolumeRepository(store, systemClock, cryptoRandom, nodeId);
        router.service(VolumeService, withErrorMapping(volumeServiceImpl(volumes)));
      },
    });
    let gateway: GatewayServer | undefined;
    const handler = createRequestHandler({
      connect,
      registry: metrics.registry,
      // Users present tokens; other nodes (log routing) their certificate from the cluster CA.
      checkers: [bearerTokenChecker(tokens), nodeCertificateChecker()],
      hostCheck: createHostCheck({ bindHost: options.bind.host, advertiseHost: advertisedHost(options) }),
      caPem: tls?.caPem,
      functionPeer: peerHandler(() => gateway),
    });
    const server = await listen(
      limitRequestBodies(protocolErrorsAsInvalidArgument(handler), options.maxRequestBytes),
      options.bind.host,
      options.bind.port,
      tls,
    );
    cleanups.unshift(() => server.close());
    apiPort = server.port;

    const advertised = advertisedHost(options);
    const host = advertised.includes(":") ? `[${advertised}]` : advertised;
    const url = `${tls ? "https" : "http"}://${host}:${server.port}`;

    // In a cluster, a watchdog outside this process kills the node's VMs once its lease heartbeat is
    // older than the TTL: the leader may be moving them, and a frozen daemon could not fence itself.
    const watchdog =
      backend.kind === "sqlite"
        ? undefined
        : startNodeWatchdog(dirs.root, dirs.vmsDir, options.leaseTtlSeconds * 1000);
    const bridge =
      options.bridgeNetwork === "on"
        ? await prepareBridgeNetwork({
            store,
            nodeId,
            network,
            pool: addresses,
            advertised,
            dataDir: dirs.root,
            logger: log,
          })
        : undefined;
    const node = new NodeServices({
      store,
      driver,
      clock: systemClock,
      logger: log,
      random: cryptoRandom,
      prober: netProber,
      agentMetrics: metrics.agent,
      stopOptions: {
        gracefulTimeoutMs: options.gracefulStopSeconds * 1000,
        quitTimeoutMs: 5000,
        killTimeoutMs: 5000,
      },
      volumeBackends: [
        new LocalVolumeBackend({ dir: join(dirs.root, "volumes") }),
        ...(ceph ? [ceph.backend] : []),
      ],
      leaseTtlSeconds: options.leaseTtlSeconds,
      functionPool: true,
      scheduler: {
        defaultStrategy: options.placementStrategy,
        graceMs: options.failoverGraceSeconds * 1000,
      },
      record: {
        id: nodeId,
        apiUrl: url,
        labels: options.labels,
        capacity: {
          vcpus: cpus().length,
          memoryMiB: Math.floor(totalmem() / 2 ** 20),
          drivers: driver.names,
          networks: bridge ? ["user", "bridge"] : ["user"],
          volumeBytes: await volumeSpace(dirs.root, join(dirs.root, "volumes")),
        },
        ...(bridge ? { overlay: bridge.overlay } : {}),
        allowance: {
          reserved: { vcpus: options.reserveVcpus, memoryMiB: options.reserveMemory },
          overcommit: { cpu: options.cpuOvercommit, memory: options.memoryOvercommit },
        },
        startedAt: new Date(systemClock.now()).toISOString(),
        isolation: isolation.summary,
        ...(ceph ? { ceph: ceph.status } : {}),
      },
      ...(bridge
        ? {
            network: { host: bridge.host, config: bridge.config },
            // Services balance to bridge-mode VMs; their host ports listen on the node's underlay address.
            serviceProxy: {
              apply: nftRunner(),
              hostAddresses: [bridge.overlay.vtep],
              reservedPorts: ownPorts().map((p) => p.port),
            },
          }
        : {}),
      // In a cluster, a node whose lease may have expired stops its VMs before the leader can move
      // them (self-fencing). A single node has nobody to hand them to, so it keeps them running.
      ...(watchdog
        ? {
            fencing: {
              ...(watchdog.lastBeat === undefined ? {} : { lastRenewedAt: watchdog.lastBeat }),
              onRenewed: () => watchdog.beat(),
            },
          }
        : {}),
    });
    cleanups.unshift(() => node.stop({ stopVms: options.stopVmsOnExit, keepLease: watchdog !== undefined }));
    await node.start();
    // Also with --gateway-bind off: instances on this node serve other nodes' gateways.
    gateway = await startGatewayServer({
      store,
      clock: systemClock,
      logger: log,
      nodeId,
      bind: options.gatewayBind,
      tls,
      domain: network.domain,
      lease: () => node.registration.leaseId,
      onResult: registerFunctionMetrics(metrics.registry, store).observe,
    });
    cleanups.unshift(() => gateway?.close());
    log.info({ nodeId, url, dataDir: dirs.root, tls: tls !== undefined }, "blixard node ready");
    return { nodeId, url, shutdown: () => shutdown(), stopped };
  } catch (err) {
    await runCleanups(cleanups, log);
    throw err;
  }
}

/**
 * The join token a new cluster starts with (k3s's server token): reusable until revoked
 * (`blixard cluster token revoke bootstrap`), written 0600 to `<data-dir>/join-token`.
 */
async function writeBootstrapJoinToken(tokens: JoinTokens, root: string): Promise<void> {
  // A cluster restored from a snapshot may carry the old cluster's bootstrap token.
  if ((await tokens.list()).some((t) => t.id === "bootstrap")) await tokens.revoke("bootstrap");
  const { token } = await tokens.create({
    id: "bootstrap",
    reusable: true,
    description: "created by --cluster-init",
  });
  writeSecretFile(join(root, "join-token"), token);
}

/** Prefers the uncompressed vmlinux (qemu boots it directly, saving seconds of decompression under TCG). */
function defaultImage(dir: string): DefaultImage | undefined {
  const kernel = [join(dir, "vmlinux"), join(dir, "vmlinuz")].find((k) => existsSync(k));
  const initrd = join(dir, "initrd.img");
  if (!kernel) return undefined;
  return existsSync(initrd) ? { kernel, initrd } : { kernel };
}
