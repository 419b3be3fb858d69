/**
 * The FunctionService on a node's API: one call from run-node.ts's routes, so that the node's
 * composition gains one line for functions.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { withErrorMapping } from "../api/error-mapping.js";
import { functionHandlers } from "../api/function-handlers.js";
import { FunctionRepository } from "../api/function-repository.js";
import { FunctionService } from "../gen/blixard/v1/function_pb.js";
import type { Clock } from "../ports/clock.js";
import type { Store } from "../ports/store.js";
import { checkHostFiles } from "./admission.js";

export function routeFunctions(
  router: ConnectRouter,
  deps: {
    store: Store;
    clock: Clock;
    nodeId: string;
    imageRoot: string;
    defaultImage: () => Promise<{ kernel: string; initrd?: string } | undefined>;
  },
): void {
  const repo = new FunctionRepository(deps.store, deps.clock, deps.nodeId);
  router.service(
    FunctionService,
    withErrorMapping(
      functionHandlers({
        repo,
        store: deps.store,
        imageRoot: deps.imageRoot,
        defaultImage: deps.defaultImage,
        hostFiles: checkHostFiles,
      }),
    ),
  );
}
