import { describe, expect, it } from "vitest";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { assertBudget, Budget, BudgetRules, capacityOf, computeBudget, cpuMillis, memoryMi, requestShares } from "../components/lib/budget";
import { budgetItems, planPlatform, PLATFORM_CONTAINERS } from "../components/plan";
import { K3S_PACKAGED, SIZES } from "../components/lib/sizes";
import { allocatable } from "../components/cluster/k3s-config";
import { parseConfig, PlatformConfig } from "../config";
import { ROOT, stackFileConfig, TEST_SECRETS } from "./helpers/stack";

const cfgFor = (stack: string, values: Record<string, string> = {}, secrets: Record<string, string> = {}) =>
  parseConfig({ get: (k) => values[k], getSecret: (k) => (k in secrets ? pulumi.secret(secrets[k]) : undefined) }, stack);
const OCI = { domain: "p.example.com", adminCidr: "203.0.113.7/32", compartmentId: "ocid1.compartment.oc1..example", "oci:region": "eu-frankfurt-1", backupOciUserOcid: "ocid1.user.oc1..example" };
const HOMELAB = { domain: "h.example.com", hostAddress: "192.0.2.10", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHti2OleQg5G0MHLhX1RVjYSi3xH/ocsHLq0NbtQ6yaa" };

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

/** The committed stack file, as `pulumi up` would read it (plus the secrets a test must supply). */
function committed(stack: string): PlatformConfig {
  // platform: keys by their bare name, as pulumi.Config("platform") reads them; oci: keys (the backup bucket's region) as they are.
  const strip = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).filter(([k]) => k.startsWith("platform:") || k.startsWith("oci:")).map(([k, v]) => [k.replace(/^platform:/, ""), v]));
  const values = strip(stackFileConfig(stack));
  const secrets = strip(TEST_SECRETS[stack] ?? {});
  return cfgFor(stack, values, secrets);
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

function ruleText(rules: BudgetRules): string {
  const parts: string[] = [];
  if (rules.maxRequestsShare !== undefined) parts.push(`CPU and memory requests ≤ ${pct(rules.maxRequestsShare)} each`);
  if (rules.minFreeMemoryRatio > 0) parts.push(`≥ ${pct(rules.minFreeMemoryRatio)} memory free`);
  if (rules.maxRequestsMi !== undefined) parts.push(`memory requests ≤ ${rules.maxRequestsMi / 1024} GiB`);
  return parts.join(", ");
}

/** One row of the README's budget table, from the plan alone. */
function readmeRow(cfg: PlatformConfig, b: Budget): string {
  const where = cfg.oci
    ? `oci (${cfg.oci.nodeCount} × A1.Flex ${cfg.oci.ocpus} OCPU / ${cfg.oci.memoryGb} GB)`
    : `${cfg.environment} (${cfg.hostCpus} CPU / ${cfg.hostMemoryGb} GB${cfg.environment === "dev" ? " Docker" : ""})`;
  const share = requestShares(b);
  return `| ${where} | ${b.capacity.cpuMillis}m / ${b.capacity.memoryMi} Mi | ${b.requests.cpuMillis}m (${pct(share.cpu)}) | ${Math.round(b.requests.memoryMi)} Mi (${pct(share.memory)}) | ${Math.round(b.limits.memoryMi)} Mi | ${pct(b.freeMemoryRatio)} | ${ruleText(cfg.profile.budget)} |`;
}

describe("the oci stack fits the Always Free tier: 2 OCPU / 12 GB (issue 11)", () => {
  it("PM-07 oci default: platform CPU requests and memory requests are each at most 50% of the allocatable after K3s reservations", () => {
    const b = planPlatform(committed("oci")).budget;
    // One 2 OCPU / 12 GB node: 1800m / 9600Mi left after the kubelet reservations (k3s-config.ts).
    expect(b.capacity).toMatchObject({ cpuMillis: allocatable(2, 12).cpuMillis, memoryMi: allocatable(2, 12).memoryMi });
    expect(b.requests.cpuMillis).toBeLessThanOrEqual(0.5 * b.capacity.cpuMillis);
    expect(b.requests.memoryMi).toBeLessThanOrEqual(0.5 * b.capacity.memoryMi);
    expect(b.freeMemoryRatio).toBeGreaterThanOrEqual(0.4);
  });

  it("PM-07 the oci profile enforces the 50% rule in the plan: a 1 OCPU / 6 GB node is refused, naming the CPU share", () => {
    const cfg = cfgFor("oci", { ...OCI, ocpus: "1", memoryGb: "6" });
    expect(() => planPlatform(cfg)).toThrow(/resource budget \(PM-07\) does not fit 1 x VM.Standard.A1.Flex \(1 OCPU \/ 6 GB each\).*CPU requests \d+m are \d+% of the allocatable 800m; the platform may take at most 400m \(50%\)/);
    const rules = { minFreeMemoryRatio: 0, maxRequestsShare: 0.5 };
    const item = (cpu: string, memory: string) => [{ name: "x", resources: { requests: { cpu, memory }, limits: { memory } } }];
    const cap = capacityOf([{ cpus: 2, memoryGb: 12 }], "h");
    expect(() => assertBudget(computeBudget(item("901m", "1Mi"), cap), rules)).toThrow(/CPU requests 901m are 50% of the allocatable 1800m; the platform may take at most 900m \(50%\)/);
    expect(() => assertBudget(computeBudget(item("900m", "4801Mi"), cap), rules)).toThrow(/memory requests 4801Mi are 50% of the allocatable 9600Mi; the platform may take at most 4800Mi/);
    expect(() => assertBudget(computeBudget(item("900m", "4800Mi"), cap), rules)).not.toThrow();
  });

  it("PM-07 two nodes of 1 OCPU / 6 GB also fit, with less room than one 2/12 node (why the default is one node)", () => {
    const one = planPlatform(committed("oci")).budget;
    const two = planPlatform(cfgFor("oci", { ...OCI, nodeCount: "2", ocpus: "1", memoryGb: "6" })).budget;
    expect(two.capacity.cpuMillis).toBeLessThan(one.capacity.cpuMillis);
    expect(two.capacity.memoryMi).toBeLessThan(one.capacity.memoryMi);
    expect(two.requests).toEqual(one.requests);
  });

  it("PM-07 K3s's own pods (coredns, metrics-server) are in the budget: the scheduler counts their requests too", () => {
    const names = budgetItems(committed("oci")).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(["k3s/coredns", "k3s/metricsServer"]));
    const k3s = Object.values(K3S_PACKAGED).reduce((a, r) => a + cpuMillis(r.requests.cpu), 0);
    const ours = PLATFORM_CONTAINERS.reduce((a, c) => a + cpuMillis(SIZES.standard[c.key].requests.cpu) * (c.replicas ?? 1), 0);
    expect(planPlatform(committed("oci")).budget.requests.cpuMillis).toBe(ours + k3s);
  });

  it("PM-07 the small class (dev) never asks for more than standard", () => {
    for (const { key } of PLATFORM_CONTAINERS) {
      const [small, std] = [SIZES.small[key], SIZES.standard[key]];
      expect(cpuMillis(small.requests.cpu), key).toBeLessThanOrEqual(cpuMillis(std.requests.cpu));
      expect(memoryMi(small.requests.memory), key).toBeLessThanOrEqual(memoryMi(std.requests.memory));
      expect(memoryMi(small.limits.memory), key).toBeLessThanOrEqual(memoryMi(std.limits.memory));
    }
  });

  it("PM-07 the README's budget table shows what the code computes for each committed stack", () => {
    const rows = (["oci", "homelab", "dev"] as const).map((stack) => {
      const cfg = committed(stack);
      return readmeRow(cfg, planPlatform(cfg).budget);
    });
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const missing = rows.filter((row) => !readme.includes(row));
    expect(missing, `README.md's budget table is stale; the rows should read:\n${rows.join("\n")}`).toEqual([]);
  });
});
