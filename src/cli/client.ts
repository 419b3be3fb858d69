/**
 * The CLI's connection to a node: Connect over HTTP/1.1, with the bearer token when one is known.
 * A node in a cluster (or bound beyond loopback) serves HTTPS with a certificate from its cluster CA;
 * the CLI verifies it against the CA found next to the token (credentials.ts). Loaded only by the
 * commands that make a request: Connect and the generated descriptors are most of the CLI's start-up.
 */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { FunctionService } from "../gen/blixard/v1/function_pb.js";
import { NodeService } from "../gen/blixard/v1/node_pb.js";
import { ServiceService } from "../gen/blixard/v1/service_pb.js";
import { TokenService } from "../gen/blixard/v1/token_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { VolumeService } from "../gen/blixard/v1/volume_pb.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import { endpoint } from "./credentials.js";
import type { GlobalOptions } from "./globals.js";

export type VmClient = Client<typeof VmService>;

export function vmClient(options: GlobalOptions): VmClient {
  return createClient(VmService, transport(options));
}

export function nodeClient(options: GlobalOptions): Client<typeof NodeService> {
  return createClient(NodeService, transport(options));
}

export function clusterClient(options: GlobalOptions): Client<typeof ClusterService> {
  return createClient(ClusterService, transport(options));
}

export function tokenClient(options: GlobalOptions): Client<typeof TokenService> {
  return createClient(TokenService, transport(options));
}

export function serviceClient(options: GlobalOptions): Client<typeof ServiceService> {
  return createClient(ServiceService, transport(options));
}

export function functionClient(options: GlobalOptions): Client<typeof FunctionService> {
  return createClient(FunctionService, transport(options));
}

export function volumeClient(options: GlobalOptions): Client<typeof VolumeService> {
  return createClient(VolumeService, transport(options));
}

function transport(options: GlobalOptions) {
  const { baseUrl, ca, token } = endpoint(options);
  const auth: Interceptor = (next) => (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    interceptors: [auth],
    ...(baseUrl.startsWith("https://") && ca !== undefined
      ? { nodeOptions: { agent: nodeHttpsAgent({ caPem: ca }) } }
      : {}),
  });
}
