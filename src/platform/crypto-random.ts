/** The production Random: node:crypto. */
import { randomBytes, randomInt } from "node:crypto";
import type { Random } from "../ports/random.js";

export const cryptoRandom: Random = {
  next: () => randomInt(0, 2 ** 48 - 1) / 2 ** 48,
  hex: (bytes: number) => randomBytes(bytes).toString("hex"),
};
