/**
 * What `blixard service create|list|get|delete` do, through the ServiceService. The flags are
 * checked here only for being numbers; the node validates the spec and names any field it refuses.
 */
import { serviceClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
import { outputFormat, printData } from "./output.js";
import { serviceDetail, serviceJson, serviceTable } from "./service-output.js";
import { UsageError } from "./usage-error.js";

export interface CreateServiceFlags {
  port: string;
  targetPort: string;
  group: string;
  hostPort?: string;
  output?: string;
}

export async function createService(
  options: GlobalOptions,
  name: string,
  flags: CreateServiceFlags,
): Promise<void> {
  const format = outputFormat(flags.output);
  const spec = {
    name,
    port: portFlag("--port", flags.port),
    targetPort: portFlag("--target-port", flags.targetPort),
    group: flags.group,
    protocol: "tcp",
    ...(flags.hostPort === undefined ? {} : { hostPort: portFlag("--host-port", flags.hostPort) }),
  };
  const { service } = await serviceClient(options).createService({ spec });
  if (!service) throw new Error("the node returned no service");
  await printData(
    format,
    serviceJson(service),
    () => `service/${name} created at ${service.address}:${spec.port}\n`,
  );
}

export async function listServices(options: GlobalOptions, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const { services } = await serviceClient(options).listServices({});
  await printData(format, services.map(serviceJson), () => serviceTable(services));
}

export async function getService(
  options: GlobalOptions,
  name: string,
  flags: { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  const { service } = await serviceClient(options).getService({ name });
  if (!service) throw new Error("the node returned no service");
  await printData(format, serviceJson(service), () => serviceDetail(service));
}

export async function deleteService(options: GlobalOptions, name: string): Promise<void> {
  await serviceClient(options).deleteService({ name });
  process.stdout.write(`service/${name} deleted\n`);
}

function portFlag(flag: string, value: string): number {
  if (!/^\d{1,5}$/.test(value)) throw new UsageError(`${flag} must be a port number (got "${value}")`);
  return Number(value);
}
