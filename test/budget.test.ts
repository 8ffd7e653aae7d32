import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { assertBudget, capacityOf, computeBudget, cpuMillis, memoryMi } from "../components/lib/budget";
import { budgetItems, planPlatform, PLATFORM_CONTAINERS } from "../components/plan";
import { SIZES } from "../components/lib/sizes";
import { parseConfig } from "../config";

const cfgFor = (stack: string, values: Record<string, string> = {}, secrets: Record<string, string> = {}) =>
  parseConfig({ get: (k) => values[k], getSecret: (k) => (k in secrets ? pulumi.secret(secrets[k]) : undefined) }, stack);
const OCI = { domain: "p.example.com", adminCidr: "203.0.113.7/32", compartmentId: "ocid1.compartment.oc1..example" };
const HOMELAB = { domain: "h.example.com", hostAddress: "192.0.2.10" };

describe("resource budget (PM-07)", () => {
  it("quantities parse", () => {
    expect(cpuMillis("250m")).toBe(250);
    expect(cpuMillis("1.5")).toBe(1500);
    expect(memoryMi("1Gi")).toBe(1024);
    expect(memoryMi("512Ki")).toBe(0.5);
    expect(() => memoryMi("1G")).toThrow(/Mi or Gi/);
    expect(() => cpuMillis("lots")).toThrow(/invalid CPU/);
  });

  it("PM-07 every platform container has requests and a memory limit at or above them, in both sizes", () => {
    for (const size of ["small", "standard"] as const) {
      for (const { key } of PLATFORM_CONTAINERS) {
        const r = SIZES[size][key];
        expect(memoryMi(r.limits.memory), `${size}/${key}`).toBeGreaterThanOrEqual(memoryMi(r.requests.memory));
        expect(cpuMillis(r.requests.cpu), `${size}/${key}`).toBeGreaterThan(0);
      }
    }
  });

  it("PM-07 one node runs server and agent: capacity is the host minus K3s reservations", () => {
    const cap = capacityOf([{ cpus: 4, memoryGb: 15 }], "homelab");
    expect(cap.memoryMi).toBeLessThan(15 * 1024);
    expect(cap.memoryMi).toBeGreaterThan(11 * 1024);
  });

  it("PM-07 oci and homelab leave at least 40% of memory free; dev requests stay under 4 GiB", () => {
    const oci = planPlatform(cfgFor("oci", OCI)).budget;
    const homelab = planPlatform(cfgFor("homelab", HOMELAB, { sshPrivateKey: "k" })).budget;
    const dev = planPlatform(cfgFor("dev")).budget;
    expect(oci.freeMemoryRatio).toBeGreaterThanOrEqual(0.4);
    expect(homelab.freeMemoryRatio).toBeGreaterThanOrEqual(0.4);
    expect(dev.requests.memoryMi).toBeLessThanOrEqual(4096);
    console.log(`budget requests: oci ${oci.requests.cpuMillis}m/${oci.requests.memoryMi}Mi of ${oci.capacity.memoryMi}Mi; homelab ${homelab.requests.cpuMillis}m/${homelab.requests.memoryMi}Mi of ${homelab.capacity.memoryMi}Mi; dev ${dev.requests.cpuMillis}m/${dev.requests.memoryMi}Mi of ${dev.capacity.memoryMi}Mi`);
  });

  it("PM-07 a host that is too small fails the preview, naming total, capacity and biggest consumers", () => {
    const cfg = cfgFor("homelab", { ...HOMELAB, hostMemoryGb: "4", hostCpus: "2" }, { sshPrivateKey: "k" });
    expect(() => planPlatform(cfg)).toThrow(/resource budget \(PM-07\) does not fit the homelab host \(2 CPUs \/ 4 GB.*memory requests \d+Mi.*Biggest consumers: .*\dMi/);
  });

  it("PM-07 dev's 4 GiB cap is enforced", () => {
    const items = budgetItems(cfgFor("dev")).map((i) => ({ ...i, replicas: 10 }));
    const budget = computeBudget(items, capacityOf([{ cpus: 64, memoryGb: 256 }], "big"));
    expect(() => assertBudget(budget, { minFreeMemoryRatio: 0, maxRequestsMi: 4096 })).toThrow(/exceed this environment's cap of 4096Mi/);
  });

  it("PM-07 a memory limit below its request is refused", () => {
    expect(() => computeBudget([{ name: "x", resources: { requests: { cpu: "10m", memory: "256Mi" }, limits: { memory: "128Mi" } } }], capacityOf([{ cpus: 1, memoryGb: 4 }], "h")))
      .toThrow(/x: memory limit 128Mi is below its request 256Mi/);
  });
});
