/** Where tests and benchmarks find the guest image that the e2e global setup builds. */
import { homedir } from "node:os";
import { join } from "node:path";

export function imageDir(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env["BLIXARD_TEST_IMAGE_DIR"] ??
    join(env["BLIXARD_CACHE_DIR"] ?? join(homedir(), ".cache", "blixard"), "test-image")
  );
}
