// The traffic plan: every flow declared once, both halves generated, nothing else allowed, names
// that cannot collide, every namespace's owner registering its policies, and the README's table.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { K8sObject } from "../components/lib/k8s";
import { cidrContains, cidrRange } from "../components/lib/network";
import { checkPlan, Endpoint, Flow, namespacePolicies, planNamespaces, trafficPlan, trafficTable } from "../components/traffic";
import { renderSampleApp } from "../components/apps/sample-app";
import * as YAML from "yaml";
import { testContext } from "./helpers/context";
import { allowed, Party } from "./helpers/netpol";
import { runStack } from "./helpers/stack";

const ctx = testContext("oci");
const plan = trafficPlan(ctx, ctx.traffic);
const allPolicies = (flows: readonly Flow[]) => planNamespaces(flows).flatMap((ns) => namespacePolicies(flows, ns));
const gitSide = (c = ctx) => Object.values(renderSampleApp(c)).map((y) => YAML.parse(y) as K8sObject).filter((o) => o.kind === "NetworkPolicy");

/** A representative party for one end of a flow. */
function party(e: Endpoint): Party {
  switch (e.kind) {
    case "pods": return { namespace: e.namespace, labels: { ...(e.pods ?? { "app.kubernetes.io/name": "any" }) } };
    case "cidrs": return { ip: addressIn(e.cidrs[0]) };
    case "any-pod": return { namespace: "user-app", labels: { app: "user" } };
    case "anywhere": return { ip: "203.0.113.9" };
  }
}

/** An address inside a range: a public one for the internet, else the range's 11th (or only) address. */
function addressIn(cidr: string): string {
  if (cidr.endsWith("/0")) return "140.82.112.3";
  const [start, end] = cidrRange(cidr);
  const n = Math.min(start + 11, end);
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

const pod = (namespace: string, labels: Record<string, string> = { "app.kubernetes.io/name": "any" }) => ({ namespace, labels });
const flowById = (id: string) => plan.find((f) => f.id === id)!;

describe("traffic plan", () => {
  it("declares each flow once, with ports and pods on at least one side", () => {
    expect(() => checkPlan(plan)).not.toThrow();
    expect(plan.length).toBeGreaterThan(30);
    // A second declaration of a flow (the class of the old duplicate policies) is refused.
    expect(() => checkPlan([...plan, { ...plan[3] }])).toThrow(/declared twice/);
    expect(() => namespacePolicies([...plan, { ...plan[3] }], "gitea")).toThrow(/declared twice/);
  });

  it("every flow is allowed by the generated policies on both sides", () => {
    const policies = [...allPolicies(plan), ...gitSide()];
    for (const f of plan) {
      for (const p of f.ports) {
        expect(allowed(policies, party(f.from), party(f.to), Number(p.port)), `${f.id} port ${p.port}`).toBe(true);
      }
    }
  });

  it("what no flow declares stays denied", () => {
    const policies = [...allPolicies(plan), ...gitSide()];
    const gitea = pod("gitea", flowById("gateway-to-gitea").to.kind === "pods" ? { ...(flowById("gateway-to-gitea").to as any).pods } : {});
    const argocdServer = party(flowById("gateway-to-argocd-server").to);
    const prometheus = party(flowById("argo-rollouts-to-prometheus").to);
    const runner = party(flowById("runner-to-gitea").from);
    const gateway = party(flowById("gateway-to-gitea").from);
    const denied: [string, Party, Party, number][] = [
      ["the runner to the Argo CD server", runner, argocdServer, 8080],
      ["the sample app to Gitea", pod("sample-app"), gitea, 3000],
      ["a user's pod to Prometheus", pod("user-app"), prometheus, 9090],
      ["the gateway to Gitea's SSH port", gateway, gitea, 2222],
      ["Prometheus to Gitea", prometheus, gitea, 3000],
      ["the runner to the API server", runner, { ip: "10.0.1.11" }, 6443],
      ["Argo CD's repo-server to the internet on 80", party(flowById("argocd-repo-server-to-internet").from), { ip: "140.82.112.3" }, 80],
      ["the gateway to the sample app's database", gateway, pod("sample-app", { "app.kubernetes.io/name": "sample-db" }), 5432],
    ];
    for (const [what, from, to, port] of denied) expect(allowed(policies, from, to, port), what).toBe(false);
  });

  it("policy names cannot collide: one name per namespace, ingress and egress apart", () => {
    const keys = allPolicies(plan).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    // The old collision: Argo CD's ingress and egress inside the namespace were both allow-intra-namespace.
    const argocd = namespacePolicies(plan, "argocd").map((p) => p.metadata.name);
    expect(argocd).toEqual(expect.arrayContaining(["ingress-argocd-to-argocd-repo-server", "egress-argocd-to-argocd-repo-server"]));
  });

  it("the Prometheus -> kube-state-metrics flow has exactly one ingress and one egress policy, both in monitoring", () => {
    const names = allPolicies(plan).filter((p) => p.metadata.name.endsWith("prometheus-to-kube-state-metrics")).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    expect(names.sort()).toEqual(["monitoring/egress-prometheus-to-kube-state-metrics", "monitoring/ingress-prometheus-to-kube-state-metrics"]);
  });

  it("a side already covered by a wider flow gets no policy of its own", () => {
    const names = allPolicies(plan).map((p) => p.metadata.name);
    // Prometheus may scrape any pod on the metrics ports: no per-target egress for those ports.
    expect(names).not.toContain("egress-prometheus-to-argo-rollouts");
    expect(names).toContain("ingress-prometheus-to-argo-rollouts");
    // kube-state-metrics' 8080 is not a scrape port: its egress is explicit.
    expect(names).toContain("egress-prometheus-to-kube-state-metrics");
  });

  it("NodePort sources narrow the Gitea and registry NodePort rules; an empty list is refused", () => {
    const narrow = trafficPlan(ctx, { nodePortSources: ["10.0.0.0/16"] });
    const policies = allPolicies(narrow);
    const gitea = party(flowById("gateway-to-gitea").to);
    expect(allowed(policies, { ip: "10.0.1.11" }, gitea, 3000)).toBe(true);
    expect(allowed(policies, { ip: "203.0.113.9" }, gitea, 3000)).toBe(false);
    expect(() => trafficPlan(ctx, { nodePortSources: [] })).toThrow(/nodePortSources is empty.*PM-24/);
  });

  it("the sample app's gateway ingress ships in Git, not with the stack", () => {
    expect(gitSide().map((p) => p.metadata.name)).toContain("ingress-gateway-to-sample-api");
    expect(namespacePolicies(plan, "sample-app").map((p) => p.metadata.name)).not.toContain("ingress-gateway-to-sample-api");
  });

  it("the README's traffic table is the plan's", () => {
    const readme = fs.readFileSync(path.resolve(__dirname, "../README.md"), "utf8");
    const block = /<!-- traffic:start -->\n([\s\S]*?)\n<!-- traffic:end -->/.exec(readme);
    expect(block, "README.md needs a <!-- traffic:start --> ... <!-- traffic:end --> block (npm run traffic prints it)").not.toBeNull();
    expect(block![1]).toBe(trafficTable(plan));
  });
});

describe("#14 NetworkPolicies as narrow as the traffic", () => {
  const ENVS = ["dev", "oci", "homelab"] as const;
  const policiesOf = (env: (typeof ENVS)[number]) => {
    const c = testContext(env);
    return [...allPolicies(trafficPlan(c, c.traffic)), ...gitSide(c)];
  };
  const ipBlocks = (policies: readonly K8sObject[]) => policies.flatMap((p: any) =>
    [...(p.spec.ingress ?? []).flatMap((r: any) => r.from ?? []), ...(p.spec.egress ?? []).flatMap((r: any) => r.to ?? [])]
      .filter((peer: any) => peer.ipBlock).map((peer: any) => ({ policy: `${p.metadata.namespace}/${p.metadata.name}`, ...peer.ipBlock })));
  const userPod = { namespace: "user-app", labels: { app: "user" }, ip: "10.42.1.9" };
  const nodeIp = { dev: "172.18.0.3", oci: "10.0.1.11", homelab: "192.0.2.10" } as const;

  it("no ipBlock spans the pod or Service range without leaving it out (kube-router matches ipBlocks against pod IPs)", () => {
    for (const env of ENVS) {
      const c = testContext(env);
      const blocks = ipBlocks(policiesOf(env));
      expect(blocks.length).toBeGreaterThan(5);
      for (const range of [c.traffic!.clusterCidr!, c.traffic!.serviceCidr!]) {
        for (const b of blocks) {
          if (!cidrContains(b.cidr, range)) continue;
          expect((b.except ?? []).some((e: string) => cidrContains(e, range)), `${env} ${b.policy}: ${b.cidr} admits ${range}`).toBe(true);
        }
      }
    }
  });

  it("NodePorts from the node range only: oci the VCN, homelab the host /32, dev the k3d Docker network; never a pod or the internet", () => {
    const sources = { dev: ["172.16.0.0/12", "192.168.0.0/16"], oci: ["10.0.0.0/16"], homelab: ["192.0.2.10/32"] };
    for (const env of ENVS) {
      expect(testContext(env).traffic!.nodePortSources, env).toEqual(sources[env]);
      const policies = policiesOf(env);
      const gitea = party(flowById("nodeport-clients-to-gitea").to);
      const registry = party(flowById("nodeport-clients-to-registry").to);
      expect(allowed(policies, { ip: nodeIp[env] }, gitea, 3000), `${env} node -> gitea`).toBe(true);
      expect(allowed(policies, { ip: nodeIp[env] }, registry, 5000), `${env} node -> registry`).toBe(true);
      for (const [what, from] of [["internet", { ip: "203.0.113.9" }], ["a user's pod", userPod]] as const) {
        expect(allowed(policies, from, gitea, 3000), `${env} ${what} -> gitea 3000`).toBe(false);
        expect(allowed(policies, from, gitea, 2222), `${env} ${what} -> gitea 2222`).toBe(false);
        expect(allowed(policies, from, registry, 5000), `${env} ${what} -> registry`).toBe(false);
      }
    }
  });

  it("the API server is the node address, not 0.0.0.0/0", () => {
    const apiServer = { dev: ["172.16.0.0/12", "192.168.0.0/16"], oci: ["10.0.1.0/24"], homelab: ["192.0.2.10/32"] };
    for (const env of ENVS) {
      const c = testContext(env);
      expect(c.traffic!.apiServerCidrs, env).toEqual(apiServer[env]);
      const policies = policiesOf(env);
      const controller = party(flowById("argocd-controller-to-api-server").from);
      expect(allowed(policies, controller, { ip: nodeIp[env] }, 6443), env).toBe(true);
      expect(allowed(policies, controller, { ip: "140.82.112.3" }, 6443), `${env} internet on 6443`).toBe(false);
      expect(allowed(policies, controller, { ...userPod, labels: { app: "listens-on-6443" } }, 6443), `${env} a pod on 6443`).toBe(false);
    }
    // A DNS-named homelab host: private ranges without the cluster's.
    const named = trafficPlan(testContext("homelab"), { ...testContext("homelab").traffic, apiServerCidrs: undefined, nodeCidrs: undefined, nodePortSources: undefined });
    const api = named.find((f) => f.id === "argocd-controller-to-api-server")!.to as any;
    expect(api.cidrs).toEqual(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
    expect(api.except).toEqual(expect.arrayContaining(["10.42.0.0/16", "10.43.0.0/16"]));
  });

  it("xDS on 15012 only: plaintext 15010 is closed from every namespace", () => {
    for (const env of ENVS) {
      const policies = policiesOf(env);
      const istiod = party(flowById("istiod-to-api-server").from);
      for (const from of [userPod, party(flowById("gateway-to-gitea").from), pod("sample-app")]) {
        expect(allowed(policies, from, istiod, 15012), `${env} 15012`).toBe(true);
        expect(allowed(policies, from, istiod, 15010), `${env} 15010`).toBe(false);
      }
    }
  });

  it("the gateway's egress goes to its backends' ports (the ACME solver's with Let's Encrypt) and istiod's 15012, nothing else", () => {
    const policies = policiesOf("oci");
    const gw = party(flowById("gateway-to-gitea").from) as any;
    const egress = policies.filter((p: any) => p.metadata.namespace === gw.namespace && p.spec.policyTypes.includes("Egress")
      && Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => gw.labels[k] === v));
    const pairs = egress.filter((p: any) => p.metadata.name !== "allow-dns" && p.spec.egress).flatMap((p: any) => p.spec.egress.flatMap((r: any) => {
      // No ipBlock, no "any destination": pods only.
      expect(r.to?.length, p.metadata.name).toBeGreaterThan(0);
      for (const peer of r.to) expect(peer.ipBlock, p.metadata.name).toBeUndefined();
      return r.ports.map((x: any) => `${p.metadata.name}:${x.port}`);
    })).sort();
    expect(pairs).toEqual([
      "egress-gateway-to-acme-solver:8089", "egress-gateway-to-argocd-server:8080", "egress-gateway-to-gitea:3000", "egress-gateway-to-istiod:15012",
      "egress-gateway-to-kiali:20001", "egress-gateway-to-sample-api:8080",
    ]);
    const prometheus = party(flowById("argo-rollouts-to-prometheus").to);
    expect(allowed(policies, gw, prometheus, 9090), "Prometheus is not published").toBe(false);
    expect(allowed(policies, gw, { ip: "140.82.112.3" }, 443)).toBe(false);
    expect(allowed(policies, gw, party(flowById("argocd-to-argocd-repo-server").to), 8081)).toBe(false);
  });

  it("internet egress (repo-server, runner, any 0.0.0.0/0 peer) leaves out the metadata service, loopback, pods, Services and nodes", () => {
    for (const env of ENVS) {
      const c = testContext(env);
      const plan = trafficPlan(c, c.traffic);
      const policies = policiesOf(env);
      // Generic: every 0.0.0.0/0 in the plan, whoever declared it, carries the excepts.
      const wide = plan.flatMap((f) => [f.from, f.to]).filter((e): e is Extract<Endpoint, { kind: "cidrs" }> => e.kind === "cidrs" && e.cidrs.includes("0.0.0.0/0"));
      expect(wide.length, env).toBeGreaterThanOrEqual(2);
      for (const e of wide) {
        for (const range of ["169.254.0.0/16", "127.0.0.0/8", "10.42.0.0/16", "10.43.0.0/16", ...c.traffic!.nodeCidrs!]) {
          expect((e.except ?? []).some((x) => cidrContains(x, range)), `${env} ${e.id} leaves out ${range}`).toBe(true);
        }
      }
      for (const [id, port] of [["argocd-repo-server-to-internet", 443], ["runner-to-internet", 443], ["runner-to-internet", 80]] as const) {
        const from = party(flowById(id).from);
        expect(allowed(policies, from, { ip: "140.82.112.3" }, port), `${env} ${id} internet`).toBe(true);
        expect(allowed(policies, from, { ip: "169.254.169.254" }, port), `${env} ${id} metadata`).toBe(false);
        expect(allowed(policies, from, { ip: "127.0.0.1" }, port), `${env} ${id} loopback`).toBe(false);
        expect(allowed(policies, from, userPod, port), `${env} ${id} a pod outside its flows`).toBe(false);
        expect(allowed(policies, from, { ip: "10.43.0.10" }, port), `${env} ${id} a Service IP`).toBe(false);
        expect(allowed(policies, from, { ip: nodeIp[env] }, port), `${env} ${id} a node`).toBe(false);
      }
      // The runner's one way to the node: the two NodePorts (PM-24).
      const runner = party(flowById("runner-to-gitea").from);
      expect(allowed(policies, runner, { ip: nodeIp[env] }, c.endpoints.ports.giteaHttp), `${env} runner -> node NodePort`).toBe(true);
      expect(allowed(policies, runner, { ip: nodeIp[env] }, 10250), `${env} runner -> kubelet`).toBe(false);
      expect(allowed(policies, runner, { ip: nodeIp[env] }, 6443), `${env} runner -> API`).toBe(false);
    }
  });
});

describe("traffic plan in the whole stacks", () => {
  for (const stack of ["dev", "oci", "homelab"] as const) {
    it(`${stack}: each namespace's owner registers its policies, so every flow is allowed and nothing is registered twice`, async () => {
      const run = await runStack(stack);
      const registered = run.created.filter((c) => c.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        .map((c) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: c.inputs.metadata, spec: c.inputs.spec }) as K8sObject);
      const c = testContext(stack);
      const policies = [...registered, ...gitSide(c)];
      const stackPlan = trafficPlan(c, c.traffic);
      for (const f of stackPlan) {
        for (const p of f.ports) expect(allowed(policies, party(f.from), party(f.to), Number(p.port)), `${stack} ${f.id} port ${p.port}`).toBe(true);
      }
      // Exactly the plan's policies, each once (the engine check in runStack already refuses repeats).
      const expected = planNamespaces(stackPlan).flatMap((ns) => namespacePolicies(stackPlan, ns)).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();
      expect(registered.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort()).toEqual(expected);
    });
  }
});

describe("components import in any order", () => {
  // Components and the plan import each other; a constant read at import time would be undefined
  // for whichever module loads first. Load each one first, alone.
  const files = fs.readdirSync(path.resolve(__dirname, "../components"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts")).sort();
  it(`each of ${files.length} component modules loads first without reading an unfinished import`, async () => {
    const { vi } = await import("vitest");
    for (const f of files) {
      vi.resetModules();
      await expect(import(`../components/${f}`), f).resolves.toBeDefined();
    }
  });
});

describe("flows land on ports the pods listen on", () => {
  // After the Service's DNAT a policy sees the pod port: each flow's port must be a container port
  // of the pods it selects, as our objects, the app's Git manifests and the chart fixtures declare them.
  const SIDECAR_PORTS = new Set([15020, 15021, 15090]); // injected by Istio, not in the manifests
  it("every pods-to-pods flow port is a declared container port of a workload it selects", async () => {
    const run = await runStack("oci");
    type Workload = { namespace: string; labels: Record<string, string>; ports: number[] };
    const workloads: Workload[] = [];
    const add = (obj: any) => {
      const tpl = obj?.spec?.template;
      if (!tpl?.spec?.containers) return;
      const ports = [...tpl.spec.containers, ...(tpl.spec.initContainers ?? [])].flatMap((c: any) => (c.ports ?? []).map((p: any) => p.containerPort));
      workloads.push({ namespace: obj.metadata.namespace, labels: tpl.metadata?.labels ?? {}, ports });
    };
    for (const c of run.created) if (/:(Deployment|StatefulSet)$/.test(c.type)) add({ metadata: c.inputs.metadata, spec: c.inputs.spec });
    for (const y of Object.values(renderSampleApp(ctx))) add(YAML.parse(y));
    const fixtures = path.resolve(__dirname, "fixtures/charts");
    for (const f of fs.readdirSync(fixtures).filter((x) => x.endsWith(".yaml"))) for (const d of YAML.parseAllDocuments(fs.readFileSync(path.join(fixtures, f), "utf8"))) add(d.toJS());
    const checked: string[] = [];
    for (const f of plan) {
      if (f.to.kind !== "pods" || !f.to.pods || f.to.id === "gateway") continue; // the gateway listens where Gateways say
      const to = f.to;
      const matches = workloads.filter((w) => w.namespace === to.namespace && Object.entries(to.pods!).every(([k, v]) => w.labels[k] === v));
      if (matches.length === 0) continue; // a chart without a fixture (Gitea, Kiali, Rollouts)
      for (const p of f.ports) {
        if (SIDECAR_PORTS.has(Number(p.port))) continue;
        expect(matches.some((w) => w.ports.includes(Number(p.port))), `${f.id}: port ${p.port} not declared by ${to.namespace}/${to.id} (declared: ${matches.map((w) => w.ports.join(",")).join(" | ")})`).toBe(true);
      }
      checked.push(f.id);
    }
    // The check reached the workloads it can see: ours, the app's and the fixtures'.
    expect(checked).toEqual(expect.arrayContaining(["gateway-to-argocd-server", "argocd-to-argocd-repo-server", "argocd-to-argocd-redis", "argo-rollouts-to-prometheus", "runner-to-registry", "prometheus-to-kube-state-metrics", "prometheus-to-istiod", "gateway-to-sample-api"]));
  });
});
