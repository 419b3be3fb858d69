import { describe, expect, it } from "vitest";
import { initialHealth, nextHealth } from "./health.js";
import { parseVmSpec } from "./vm-spec.js";

const check = parseVmSpec({
  name: "web",
  kernel: "/k",
  forwards: [{ host: 8080, guest: 80 }],
  healthCheck: { type: "tcp", port: 80, failureThreshold: 2, startPeriodSeconds: 10 },
}).healthCheck!;

describe("nextHealth", () => {
  it("stays starting while the guest boots", () => {
    const s = nextHealth(nextHealth(initialHealth, check, false, 1000), check, false, 2000);
    expect(s).toMatchObject({ health: "starting", consecutiveFailures: 0 });
  });

  it("becomes healthy on the first success", () => {
    expect(nextHealth(initialHealth, check, true, 1000).health).toBe("healthy");
  });

  it("becomes unhealthy after the threshold of consecutive failures", () => {
    let s = nextHealth(initialHealth, check, true, 1000);
    s = nextHealth(s, check, false, 2000);
    expect(s.health).toBe("healthy");
    s = nextHealth(s, check, false, 3000);
    expect(s).toMatchObject({ health: "unhealthy", consecutiveFailures: 2 });
    expect(nextHealth(s, check, true, 4000).health).toBe("healthy");
  });

  it("counts failures after the start period even if never healthy", () => {
    let s = nextHealth(initialHealth, check, false, 11_000);
    s = nextHealth(s, check, false, 12_000);
    expect(s.health).toBe("unhealthy");
  });
});
