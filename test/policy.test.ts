// The policy pack, outside the engine: each policy gets a clean fixture (built with our own
// builders where they exist, so the platform passes its own pack), then the same fixture with
// one field broken, which must be reported.
import { describe, expect, it } from "vitest";
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { policies, PRIVILEGED_EXCEPTIONS } from "../policy/policies";
import { conditionGuardsEmptyResult, execProbeCannotFail, missingResources } from "../policy/checks";
import { podTemplate, typeToken } from "../policy/pods";
import { container, K8sObject, namespace, service, workloadPorts } from "../components/lib/k8s";
import { SIZES } from "../components/lib/sizes";

type Obj = Record<string, any>;

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

function resourceArgs(obj: Obj, config: Obj = {}): ResourceValidationArgs {
  const { apiVersion, kind } = obj;
  const type = typeToken(apiVersion, kind);
  const name = obj.metadata?.name ?? "x";
  return {
    type, props: obj, urn: `urn:pulumi:test::gitops-platform::${type}::${name}`, name,
    opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => { throw new Error(`notApplicable: ${reason}`); },
  } as ResourceValidationArgs;
}

function policy(name: string): ResourceValidationPolicy {
  const p = policies.find((x) => x.name === name);
  if (!p || !("validateResource" in p)) throw new Error(`no resource policy ${name}`);
  return p as ResourceValidationPolicy;
}

async function violations(name: string, obj: Obj, config: Obj = {}): Promise<string[]> {
  const out: string[] = [];
  const v = policy(name).validateResource!;
  for (const fn of Array.isArray(v) ? v : [v]) await fn(resourceArgs(obj, config), (m) => out.push(m));
  return out;
}

async function stackViolations(name: string, objs: Obj[]): Promise<string[]> {
  const p = policies.find((x) => x.name === name) as StackValidationPolicy;
  const out: string[] = [];
  const resources = objs.map((o) => ({ ...resourceArgs(o), dependencies: [], propertyDependencies: {} }));
  await p.validateStack({ resources, stackTags: new Map(), getConfig: () => ({}) as any, notApplicable: () => { throw new Error("n/a"); } } as unknown as StackValidationArgs, (m) => out.push(m));
  return out;
}

// A clean workload, from the platform's own builders.
const api = container({
  name: "api", image: "registry.platform.internal:5000/app:1.2.3", resources: SIZES.standard.sampleApi,
  ports: [{ name: "http", containerPort: 8000 }], readiness: { http: { path: "/health/ready", port: "http" } },
});
const labels = { app: "api" };
const podSpec = { containers: [api] };
const deployment: K8sObject = {
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "apps" },
  spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } },
};
const svc = service({ name: "api", namespace: "apps", selector: labels, ports: workloadPorts(podSpec as any) });

/** Every kind that carries a pod, around the same pod spec. */
function workloads(spec: Obj): Obj[] {
  const template = { metadata: { labels }, spec };
  const md = { name: "w", namespace: "apps" };
  return [
    { apiVersion: "apps/v1", kind: "Deployment", metadata: md, spec: { selector: { matchLabels: labels }, template } },
    { apiVersion: "apps/v1", kind: "StatefulSet", metadata: md, spec: { serviceName: "w", selector: { matchLabels: labels }, template } },
    { apiVersion: "apps/v1", kind: "DaemonSet", metadata: md, spec: { selector: { matchLabels: labels }, template } },
    { apiVersion: "batch/v1", kind: "Job", metadata: md, spec: { template } },
    { apiVersion: "batch/v1", kind: "CronJob", metadata: md, spec: { schedule: "@daily", jobTemplate: { spec: { template } } } },
    { apiVersion: "v1", kind: "Pod", metadata: { ...md, labels }, spec },
    { apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", metadata: md, spec: { selector: { matchLabels: labels }, template, strategy: { canary: { steps: [] } } } },
  ];
}

function withContainer(obj: Obj, patch: (c: Obj) => void): Obj {
  const o = clone(obj);
  patch(podTemplate(typeToken(o.apiVersion, o.kind), o)!.spec.containers[0]);
  return o;
}

describe("policy pack", () => {
  it("every policy is named after its PM ID, mandatory, and names are unique", () => {
    for (const p of policies) {
      expect(p.name).toMatch(/^pm-\d{2}-[a-z0-9-]+$/);
      expect(p.description).toMatch(new RegExp(`^PM-${p.name.slice(3, 5)}`));
      expect(p.enforcementLevel).toBe("mandatory");
    }
    expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length);
  });

  it("the platform's own builders pass every resource policy", async () => {
    for (const obj of [deployment, svc, namespace({ name: "apps", podSecurity: "restricted" })]) {
      for (const p of policies.filter((x) => "validateResource" in x)) expect(await violations(p.name, obj)).toEqual([]);
    }
  });

  it("PM-15 images naming localhost are rejected in every pod-carrying kind", async () => {
    for (const w of workloads(podSpec)) {
      expect(await violations("pm-15-no-loopback-images", w)).toEqual([]);
      for (const image of ["localhost:5005/app:1.0.0", "127.0.0.1:5000/app:1.0.0", "[::1]:5000/app:1.0.0"]) {
        const bad = withContainer(w, (c) => { c.image = image; });
        expect(await violations("pm-15-no-loopback-images", bad), `${w.kind} ${image}`).toHaveLength(1);
      }
    }
    const init = clone(deployment) as Obj;
    init.spec.template.spec.initContainers = [{ ...api, name: "init", image: "localhost/app:1.0.0" }];
    expect(await violations("pm-15-no-loopback-images", init)).toEqual([expect.stringContaining("container init")]);
  });

  it("PM-04 mutable tags need imagePullPolicy Always", async () => {
    const mutable = withContainer(deployment, (c) => { c.image = "registry.platform.internal:5000/app:main"; c.imagePullPolicy = "Always"; });
    expect(await violations("pm-04-mutable-tags-pull-always", mutable)).toEqual([]);
    expect(await violations("pm-04-mutable-tags-pull-always", withContainer(mutable, (c) => { c.imagePullPolicy = "IfNotPresent"; }))).toHaveLength(1);
    expect(await violations("pm-04-mutable-tags-pull-always", withContainer(mutable, (c) => { delete c.imagePullPolicy; }))).toHaveLength(1);
  });

  it("PM-11 exec probes that cannot fail are rejected", async () => {
    const goodExec = withContainer(deployment, (c) => { c.livenessProbe = { exec: { command: ["pg_isready", "-U", "app"] } }; });
    expect(await violations("pm-11-exec-probes-can-fail", goodExec)).toEqual([]);
    const bad = withContainer(goodExec, (c) => { c.livenessProbe = { exec: { command: ["python", "-c", "print('Health check passed')"] } }; });
    expect(await violations("pm-11-exec-probes-can-fail", bad)).toEqual([expect.stringMatching(/livenessProbe.*always succeeds/)]);
  });

  it("PM-11 the probe predicate knows the trivially successful commands", () => {
    for (const cmd of [["echo", "ok"], ["true"], ["/bin/true"], ["sh", "-c", "exit 0"], ["sh", "-c", "echo healthy"],
      ["python3", "-c", "print('ok')"], ["sh", "-c", "curl -f localhost:8080 || true"], ["sh", "-c", "python -c 'print(1)'"], []]) {
      expect(execProbeCannotFail(cmd), JSON.stringify(cmd)).toBe(true);
    }
    for (const cmd of [["pg_isready"], ["sh", "-c", "wget -qO- http://127.0.0.1:8080/healthz"], ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"],
      ["sh", "-c", "echo ok && curl -f http://127.0.0.1:8080/"]]) {
      expect(execProbeCannotFail(cmd), JSON.stringify(cmd)).toBe(false);
    }
  });

  it("PM-11 long-running containers need readiness and liveness probes; Jobs do not", async () => {
    for (const w of workloads(podSpec)) {
      expect(await violations("pm-11-workloads-have-probes", w)).toEqual([]);
      const noProbe = withContainer(w, (c) => { delete c.readinessProbe; });
      const expected = w.kind === "Job" || w.kind === "CronJob" ? 0 : 1;
      expect(await violations("pm-11-workloads-have-probes", noProbe), w.kind).toHaveLength(expected);
    }
  });

  it("PM-06 a Service must target a port the selected containers expose", async () => {
    expect(await stackViolations("pm-06-service-targets-exposed-port", [deployment, svc])).toEqual([]);
    const numeric = clone(svc) as Obj;
    numeric.spec.ports[0].targetPort = 8000;
    expect(await stackViolations("pm-06-service-targets-exposed-port", [deployment, numeric])).toEqual([]);
    numeric.spec.ports[0].targetPort = 3000;
    expect(await stackViolations("pm-06-service-targets-exposed-port", [deployment, numeric])).toEqual([expect.stringMatching(/targets 3000.*http:8000/)]);
    const named = clone(svc) as Obj;
    named.spec.ports[0].targetPort = "web";
    expect(await stackViolations("pm-06-service-targets-exposed-port", [deployment, named])).toHaveLength(1);
    // A Service selecting pods this stack does not declare (a chart's) is not judged.
    expect(await stackViolations("pm-06-service-targets-exposed-port", [numeric])).toEqual([]);
    // Same labels in another namespace are not selected.
    const elsewhere = clone(deployment) as Obj;
    elsewhere.metadata.namespace = "other";
    expect(await stackViolations("pm-06-service-targets-exposed-port", [elsewhere, numeric])).toEqual([]);
  });

  const gateway = {
    apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "web", namespace: "istio-system" },
    spec: { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
  };
  it("PM-37 Istio Gateway ports must be named", async () => {
    expect(await violations("pm-37-gateway-ports-named", gateway)).toEqual([]);
    const bad = clone(gateway) as Obj;
    delete bad.spec.servers[0].port.name;
    expect(await violations("pm-37-gateway-ports-named", bad)).toEqual([expect.stringContaining("spec.servers[0].port has no name")]);
    expect(await violations("pm-37-gateway-ports-named", { ...bad, apiVersion: "networking.istio.io/v1beta1" })).toHaveLength(1);
  });

  const analysis = {
    apiVersion: "argoproj.io/v1alpha1", kind: "AnalysisTemplate", metadata: { name: "success-rate", namespace: "apps" },
    spec: {
      metrics: [{
        name: "success-rate", interval: "30s", count: 4, failureLimit: 1,
        successCondition: "len(result) == 0 || result[0] >= 0.95",
        provider: { prometheus: { address: "http://prometheus.monitoring:9090", query: "sum(rate(x[1m]))" } },
      }],
    },
  };
  it("PM-25 analysis interval always comes with count", async () => {
    expect(await violations("pm-25-analysis-interval-has-count", analysis)).toEqual([]);
    const bad = clone(analysis) as Obj;
    delete bad.spec.metrics[0].count;
    expect(await violations("pm-25-analysis-interval-has-count", bad)).toEqual([expect.stringContaining("interval 30s but no count")]);
    expect(await violations("pm-25-analysis-interval-has-count", { ...bad, kind: "ClusterAnalysisTemplate" })).toHaveLength(1);
  });

  it("PM-26 analysis conditions guard the empty Prometheus result", async () => {
    expect(await violations("pm-26-analysis-guards-empty-result", analysis)).toEqual([]);
    const bad = clone(analysis) as Obj;
    bad.spec.metrics[0].successCondition = "result[0] >= 0.95";
    expect(await violations("pm-26-analysis-guards-empty-result", bad)).toHaveLength(1);
    expect(conditionGuardsEmptyResult("len(result) > 0 && result[0] < 0.9")).toBe(true);
    expect(conditionGuardsEmptyResult("result == 'ok'")).toBe(true);
  });

  const rollout = workloads(podSpec).find((w) => w.kind === "Rollout")!;
  it("PM-17 Rollouts declare a strategy", async () => {
    expect(await violations("pm-17-rollout-has-strategy", rollout)).toEqual([]);
    const none = clone(rollout);
    delete none.spec.strategy;
    expect(await violations("pm-17-rollout-has-strategy", none)).toEqual([expect.stringContaining("neither canary nor blueGreen")]);
    const bg = clone(rollout);
    bg.spec.strategy = { blueGreen: { previewService: "api-preview" } };
    expect(await violations("pm-17-rollout-has-strategy", bg)).toEqual([expect.stringContaining("without activeService")]);
  });

  const application = {
    apiVersion: "argoproj.io/v1alpha1", kind: "Application", metadata: { name: "sample-app", namespace: "argocd" },
    spec: {
      project: "default", destination: { server: "https://kubernetes.default.svc", namespace: "apps" },
      source: { repoURL: "http://gitea-http.gitea.svc.cluster.local:3000/platform/sample-app.git", targetRevision: "main", path: "deploy" },
      syncPolicy: { automated: { prune: true, selfHeal: true } },
    },
  };
  it("PM-14 Argo CD repos never point at localhost", async () => {
    expect(await violations("pm-14-argocd-repo-not-loopback", application)).toEqual([]);
    const bad = clone(application) as Obj;
    bad.spec.source.repoURL = "http://localhost:3000/platform/sample-app.git";
    expect(await violations("pm-14-argocd-repo-not-loopback", bad)).toHaveLength(1);
    const multi = clone(application) as Obj;
    multi.spec.sources = [{ repoURL: "http://[::1]:8080/x.git" }];
    expect(await violations("pm-14-argocd-repo-not-loopback", multi)).toHaveLength(1);
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "repo", namespace: "argocd", labels: { "argocd.argoproj.io/secret-type": "repository" } }, stringData: { url: "http://gitea-http.gitea.svc.cluster.local:3000/x.git" } };
    expect(await violations("pm-14-argocd-repo-not-loopback", secret)).toEqual([]);
    expect(await violations("pm-14-argocd-repo-not-loopback", { ...secret, stringData: { url: "http://127.0.0.1:3000/x.git" } })).toHaveLength(1);
  });

  it("PM-31 Applications sync automatically with selfHeal", async () => {
    expect(await violations("pm-31-applications-self-heal", application)).toEqual([]);
    const bad = clone(application) as Obj;
    bad.spec.syncPolicy.automated.selfHeal = false;
    expect(await violations("pm-31-applications-self-heal", bad)).toHaveLength(1);
    delete bad.spec.syncPolicy;
    expect(await violations("pm-31-applications-self-heal", bad)).toHaveLength(1);
  });

  it("PM-02 argocd namespace opts out of linkerd injection", async () => {
    const ns = namespace({ name: "argocd", podSecurity: "baseline", annotations: { "linkerd.io/inject": "disabled" } });
    expect(await violations("pm-02-argocd-namespace-no-mesh", ns)).toEqual([]);
    expect(await violations("pm-02-argocd-namespace-no-mesh", namespace({ name: "argocd", podSecurity: "baseline" }))).toHaveLength(1);
    const injected = namespace({ name: "argocd", podSecurity: "baseline", istioInjection: true, annotations: { "linkerd.io/inject": "disabled" } });
    expect(await violations("pm-02-argocd-namespace-no-mesh", injected)).toEqual([expect.stringContaining("istio-injection")]);
    // Other namespaces are not Argo CD's; the list is configurable.
    expect(await violations("pm-02-argocd-namespace-no-mesh", namespace({ name: "apps", podSecurity: "baseline" }))).toEqual([]);
    expect(await violations("pm-02-argocd-namespace-no-mesh", namespace({ name: "gitops", podSecurity: "baseline" }), { argocdNamespaces: ["gitops"] })).toHaveLength(1);
  });

  it("PM-07 containers declare requests and a memory limit", async () => {
    for (const w of workloads(podSpec)) {
      expect(await violations("pm-07-containers-have-resources", w)).toEqual([]);
      expect(await violations("pm-07-containers-have-resources", withContainer(w, (c) => { delete c.resources.limits; })), w.kind).toEqual([expect.stringContaining("limits.memory")]);
    }
    expect(missingResources(undefined)).toEqual(["requests.cpu", "requests.memory", "limits.memory"]);
    expect(missingResources({ requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } })).toEqual([]);
  });

  it("PM-01 privileged containers only for the runner's dind exception", async () => {
    const [exception] = PRIVILEGED_EXCEPTIONS;
    const runner = withContainer({ ...clone(deployment), metadata: { name: "act-runner", namespace: exception.namespace } }, (c) => {
      c.name = exception.container; c.securityContext = { privileged: true };
    });
    expect(await violations("pm-01-privileged-only-runner-dind", runner)).toEqual([]);
    const elsewhere = clone(runner) as Obj;
    elsewhere.metadata.namespace = "apps";
    expect(await violations("pm-01-privileged-only-runner-dind", elsewhere)).toEqual([expect.stringContaining("is privileged")]);
    const renamed = withContainer(runner, (c) => { c.name = "job"; });
    expect(await violations("pm-01-privileged-only-runner-dind", renamed)).toHaveLength(1);
    expect(await violations("pm-01-privileged-only-runner-dind", elsewhere, { exceptions: [{ namespace: "apps", container: exception.container }] })).toEqual([]);
  });
});
