import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { kubeletArgs, kubeletReservations } from "../components/cluster/k3s-config";
import { Created, find, findAll, plain, outsideSecrets } from "./helpers/mocks";
import { runStack as evaluate, StackRun, TEST_SECRETS } from "./helpers/stack";

// Each committed stack is evaluated once and shared by the assertions below (keeps the suite fast).
const runs = new Map<string, Promise<StackRun>>();
function runStack(stack: string): Promise<StackRun> {
  if (!runs.has(stack)) runs.set(stack, evaluate(stack));
  return runs.get(stack)!;
}


function leaks(created: Created[], needle: string): string[] {
  return created.flatMap((c) => outsideSecrets(c.inputs, needle).map((p) => `${c.type} ${c.name}${p}`));
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
    expect(dev.gitea).toBe("https://git.platform.localhost:8443");
    expect(dev.registry).toBe("registry.platform.internal:5000");
    const oci = (await runStack("oci")).outputs.urls as any;
    expect(oci.argocd).toBe("https://argocd.platform.example.com");
    expect(oci.giteaNodePort).toMatch(/^http:\/\/10\.0\.1\.\d+:30300$/);
  });
});

describe("hardening across the whole stack (issue 5)", () => {
  for (const stack of STACKS) {
    it(`${stack}: every namespace the stack creates has Pod Security enforced and, but istio-system, a default deny`, async () => {
      const run = await runStack(stack);
      const namespaces = findAll(run.created, "kubernetes:core/v1:Namespace").map((n) => n.inputs.metadata);
      expect(namespaces.length).toBeGreaterThanOrEqual(7);
      const denies = findAll(run.created, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        .filter((p) => p.inputs.metadata.name === "default-deny").map((p) => p.inputs.metadata.namespace);
      for (const ns of namespaces) {
        expect(ns.labels["pod-security.kubernetes.io/enforce"], ns.name).toMatch(/^(restricted|baseline|privileged)$/);
        if (ns.name !== "istio-system") expect(denies, ns.name).toContain(ns.name);
      }
      // Privileged only where required: the runner's Docker-in-Docker, the sidecar namespace,
      // where istio-init adds NET_ADMIN/NET_RAW (no Istio CNI), which baseline forbids, and the
      // backup namespace, whose K3s datastore job mounts host paths (baseline forbids hostPath).
      const privileged = namespaces.filter((n) => n.labels["pod-security.kubernetes.io/enforce"] === "privileged").map((n) => n.name).sort();
      expect(privileged).toEqual(["backup", "gitea-runner", "sample-app"]);
    });

    it(`${stack}: our own containers are hardened, pinned, probed and sized`, async () => {
      const run = await runStack(stack);
      const workloads = run.created.filter((c) => /^kubernetes:(apps\/v1:(Deployment|StatefulSet)|batch\/v1:Job)$/.test(c.type));
      expect(workloads.length).toBeGreaterThanOrEqual(3);
      for (const w of workloads) {
        for (const c of plain(w.inputs.spec.template.spec.containers) as any[]) {
          const where = `${w.name}/${c.name}`;
          expect(c.image, where).toMatch(/:[^:]+$/);
          expect(c.image, where).not.toMatch(/:latest$/);
          expect(c.resources?.requests?.memory, where).toBeDefined();
          expect(c.resources?.limits?.memory, where).toBeDefined();
          if (w.type !== "kubernetes:batch/v1:Job") expect(c.readinessProbe, where).toBeDefined();
          if (c.name === "dind") continue; // the one documented privileged exception
          expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
          expect(c.securityContext?.capabilities?.drop, where).toContain("ALL");
        }
      }
    });
  }
});

describe("what the components actually pass (not only what builders return)", () => {
  const decodeEnv = (stdin: string, name: string) => {
    const m = new RegExp(`export ${name}="\\$\\(printf '%s' '([^']*)'`).exec(stdin);
    if (!m) throw new Error(`no ${name} in stdin`);
    return Buffer.from(m[1], "base64").toString("utf8");
  };

  it("PM-04 PM-40 the K3s mirror key is the registry name images use (urls.registry), for every stack with K3s", async () => {
    for (const stack of ["oci", "homelab"] as const) {
      const run = await runStack(stack);
      const stdin: string = plain(find(run.created, "command:remote:Command", (c) => c.name === "k3s-server").inputs.stdin);
      const registries = YAML.parse(Buffer.from(decodeEnv(stdin, "REGISTRIES_B64"), "base64").toString("utf8"));
      expect(Object.keys(registries.mirrors)).toEqual([(run.outputs.urls as any).registry]);
    }
  });

  it("PM-18 the K3s server's kubelet reservations follow the configured host size", async () => {
    const run = await runStack("homelab");
    const stdin: string = plain(find(run.created, "command:remote:Command", (c) => c.name === "k3s-server").inputs.stdin);
    const config = YAML.parse(Buffer.from(decodeEnv(stdin, "K3S_CONFIG_B64"), "base64").toString("utf8"));
    expect(config["kubelet-arg"]).toEqual(kubeletArgs(kubeletReservations(4, 15)));
  });

  it("PM-21 chart-owned PVC workloads lose fsGroup on dev only (Gitea, Prometheus)", async () => {
    const chartValues = (run: StackRun, name: string) => plain(find(run.created, "kubernetes:helm.sh/v4:Chart", (c) => c.name === name).inputs.values);
    const dev = await runStack("dev");
    const oci = await runStack("oci");
    expect(chartValues(dev, "gitea").podSecurityContext.fsGroup).toBeNull();
    expect(chartValues(dev, "prometheus").server.securityContext.fsGroup).toBeNull();
    expect(chartValues(oci, "gitea").podSecurityContext.fsGroup).toBe(1000);
    expect(chartValues(oci, "prometheus").server.securityContext.fsGroup).toBe(65534);
    // Pod Security still holds on dev: runAsNonRoot stays.
    expect(chartValues(dev, "prometheus").server.securityContext.runAsNonRoot).toBe(true);
  });
});
