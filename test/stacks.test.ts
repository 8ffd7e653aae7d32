import { describe, expect, it } from "vitest";
import { Created, find, findAll, plain } from "./helpers/mocks";
import { runStack as evaluate, StackRun, TEST_SECRETS } from "./helpers/stack";

// Each committed stack is evaluated once and shared by the assertions below (keeps the suite fast).
const runs = new Map<string, Promise<StackRun>>();
function runStack(stack: string): Promise<StackRun> {
  if (!runs.has(stack)) runs.set(stack, evaluate(stack));
  return runs.get(stack)!;
}

/** Paths where a value containing `needle` appears outside a secret wrapper. */
function plaintextPaths(value: unknown, needle: string, at = ""): string[] {
  if (typeof value === "string") return value.includes(needle) ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plaintextPaths(v, needle, `${at}[${i}]`));
  if (value && typeof value === "object") {
    if ("4dabf18193072939515e22adb298388d" in value) return [];
    return Object.entries(value).flatMap(([k, v]) => plaintextPaths(v, needle, `${at}.${k}`));
  }
  return [];
}

function leaks(created: Created[], needle: string): string[] {
  return created.flatMap((c) => plaintextPaths(c.inputs, needle).map((p) => `${c.type} ${c.name}${p}`));
}

const STACKS = ["dev", "oci", "homelab"] as const;

describe("whole stacks under mocks (the program as `pulumi up` runs it)", () => {
  for (const stack of STACKS) {
    it(`${stack} evaluates with its committed stack file`, async () => {
      const run = await runStack(stack);
      expect(run.outputs.environment).toBe(stack);
      expect(findAll(run.created, "pulumi:providers:kubernetes")).toHaveLength(1);
      console.log(`${stack} evaluated in ${run.ms.toFixed(0)} ms, ${run.created.length} resources`);
    });

    it(`${stack}: every Kubernetes resource uses the one explicit provider`, async () => {
      const run = await runStack(stack);
      const k8s = run.created.filter((c) => c.type.startsWith("kubernetes:"));
      for (const r of k8s) expect(r.provider, `${r.type} ${r.name}`).toMatch(/pulumi:providers:kubernetes::k8s::/);
    });

    it(`PM-09 ${stack}: no generated or configured secret appears in plaintext in any resource input`, async () => {
      const run = await runStack(stack);
      // Generated secrets resolve to "mock-<resource name>" under the mocks.
      expect(leaks(run.created, "mock-platform-")).toEqual([]);
      for (const value of Object.values(TEST_SECRETS[stack])) expect(leaks(run.created, value.split("\n")[1] ?? value)).toEqual([]);
    });
  }

  it("PM-09 credentials and kubeconfig are exported only as secrets", async () => {
    const run = await evaluate("dev");
    // Same module graph as that fresh evaluation.
    const pulumi = await import("@pulumi/pulumi");
    const mod = await import("../index");
    expect(await pulumi.isSecret(mod.credentials as any)).toBe(true);
    expect(await pulumi.isSecret(mod.kubeconfig)).toBe(true);
    expect((run.outputs.credentials as any).giteaAdmin.password).toMatch(/^mock-platform-giteaAdminPassword/);
  });

  it("oci: network, A1 instance, cloud-init wait, then K3s over SSH", async () => {
    const run = await runStack("oci");
    expect(find(run.created, "oci:Core/instance:Instance").inputs.shape).toBe("VM.Standard.A1.Flex");
    find(run.created, "command:remote:Command", (c) => c.name === "k3s-server");
    expect(run.outputs.sshPrivateKey).toContain("OPENSSH PRIVATE KEY");
  });

  it("homelab: preflight against the configured host", async () => {
    const run = await runStack("homelab");
    const preflight = find(run.created, "command:remote:Command", (c) => c.name === "homelab-preflight");
    expect(plain(preflight.inputs.connection).host).toBe("192.0.2.10");
  });

  it("PM-07 the budget is a stack output and fits each environment", async () => {
    for (const stack of STACKS) {
      const run = await runStack(stack);
      const budget = run.outputs.budget as any;
      expect(budget.requests.memoryMi).toBeLessThanOrEqual(budget.capacity.memoryMi);
      if (stack === "dev") expect(budget.requests.memoryMi).toBeLessThanOrEqual(4096);
      else expect(budget.freeMemoryPercent).toBeGreaterThanOrEqual(40);
    }
  });

  it("PM-40 URLs come from the endpoints object, per environment", async () => {
    const dev = (await runStack("dev")).outputs.urls as any;
    expect(dev.gitea).toBe("http://git.platform.localhost:8080");
    expect(dev.registry).toBe("registry.platform.internal:5000");
    const oci = (await runStack("oci")).outputs.urls as any;
    expect(oci.argocd).toBe("http://argocd.platform.example.com");
    expect(oci.giteaNodePort).toMatch(/^http:\/\/10\.0\.1\.\d+:30300$/);
  });
});
