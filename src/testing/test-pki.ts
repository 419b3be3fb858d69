/** A cluster CA and a node certificate in a temporary pki/ directory, for tests with real TLS. */
import { initClusterPki } from "../pki/cluster-pki.js";
import { type PkiLayout, type PkiMaterial, pkiLayout } from "../pki/pki-files.js";

export async function makeTestPki(
  dataDir: string,
  nodeId = "node-test",
  hosts: readonly string[] = ["127.0.0.1"],
): Promise<{ pki: PkiLayout; material: PkiMaterial }> {
  const pki = pkiLayout(dataDir);
  const material = await initClusterPki(pki, nodeId, hosts, new Date());
  return { pki, material };
}
