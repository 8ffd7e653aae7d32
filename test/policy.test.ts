// The policy pack, outside the engine: each policy gets a clean fixture (built with our own
// builders where they exist, so the platform passes its own pack), then the same fixture with
// one field broken, which must be reported.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { describe, expect, it } from "vitest";
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { ISTIO_AUTO_IMAGE, LIVENESS_EXCEPTIONS, policies, PRIVILEGED_EXCEPTIONS } from "../policy/policies";
import { conditionGuardsEmptyResult, execProbeCannotFail, missingResources } from "../policy/checks";
import { podTemplate, typeToken } from "../policy/pods";
import { container, K8sObject, namespace, service, workloadPorts } from "../components/lib/k8s";
import { SIZES } from "../components/lib/sizes";
import { charts, ChartPin } from "../components/lib/versions";
import { bcryptHash } from "../components/lib/hash";
import { GATEWAY_RELEASE, gatewayValues, ISTIO_NAMESPACE, ISTIOD_PODS, istiodValues, platformRoutes } from "../components/mesh/istio";
import { GATEWAY_SELECTOR } from "../components/mesh/routing";
import { argoCdValues, ARGOCD_PODS } from "../components/gitops/argocd-values";
import { prometheusValues, PROMETHEUS_SERVER_PODS } from "../components/monitoring/prometheus";
import { schemaError, type K8sDoc } from "../scripts/render";
import { testContext } from "./helpers/context";
import { chartServerArgs } from "./helpers/prometheus-chart";

type Obj = Record<string, any>;

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

function resourceArgs(obj: Obj, config: Obj = {}): ResourceValidationArgs {
  const { apiVersion, kind } = obj;
  const type = typeToken(apiVersion, kind);
  // helm v4 registers a chart's objects as ordinary resources of their own type, children of the
  // Chart, named <chart>:<namespace>/<name>; the policies see exactly that.
  const release = obj.metadata?.labels?.["helm.sh/chart"] ? obj.metadata?.labels?.["app.kubernetes.io/instance"] : undefined;
  const name = release ? `${release}:${obj.metadata?.namespace}/${obj.metadata?.name}` : obj.metadata?.name ?? "x";
  const parents = release ? "kubernetes:helm.sh/v4:Chart$" : "";
  return {
    type, props: obj, urn: `urn:pulumi:test::gitops-platform::${parents}${type}::${name}`, name,
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
      // Named after the post-mortem, or after the issue item where no post-mortem applies.
      expect(p.name).toMatch(/^(pm-\d{2}|issue-\d{2}-\d)-[a-z0-9-]+$/);
      const item = /^issue-(\d{2})-(\d)-/.exec(p.name);
      expect(p.description).toMatch(item ? new RegExp(`^#${item[1]}\\.${item[2]}:`) : new RegExp(`^PM-${p.name.slice(3, 5)}`));
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

  it("#14.1 users' own Applications and ApplicationSets in the default project (or an undeclared one) are denied", async () => {
    const rule = "issue-14-1-applications-in-declared-projects";
    const inProject = (p: unknown) => { const a = clone(application) as Obj; if (p === undefined) delete a.spec.project; else a.spec.project = p; return a; };
    expect(await violations(rule, inProject("apps"))).toEqual([]);
    expect(await violations(rule, inProject("platform"))).toEqual([]);
    for (const bad of ["default", undefined, "", "team-x"]) expect(await violations(rule, inProject(bad))).toHaveLength(1);
    const set = { apiVersion: "argoproj.io/v1alpha1", kind: "ApplicationSet", metadata: { name: "many", namespace: "argocd" },
      spec: { generators: [{ list: { elements: [] } }], template: { metadata: { name: "{{name}}" }, spec: { ...clone(application.spec), project: "default" } } } };
    expect(await violations(rule, set)).toHaveLength(1);
    expect(await violations(rule, { ...set, spec: { ...set.spec, template: { ...set.spec.template, spec: { ...set.spec.template.spec, project: "apps" } } } })).toEqual([]);
    // A stack that declares its own projects names them in the policy config.
    expect(await violations(rule, inProject("team-x"), { projects: ["team-x"] })).toEqual([]);
    // The platform's own Applications pass: the root and the sample app's child.
    const { rootApplication } = await import("../components/gitops/applications");
    expect(await violations(rule, rootApplication({ ctx: testContext("dev"), repoURL: "http://gitea-http.gitea.svc.cluster.local:3000/platform/platform-apps.git" }))).toEqual([]);
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


// What the pinned charts render with our values (test/fixtures/charts/, written from the templates):
// under mocks a helm v4 Chart has no children, so without these the pack never meets a chart's
// objects, while `pulumi preview --policy-pack policy` judges every one of them.
const FIXTURES = path.join(__dirname, "fixtures", "charts");
/** Fixture file -> the chart pin it was written from. */
const FIXTURE_PINS: Record<string, ChartPin> = {
  "istio-gateway-1.30.3.yaml": charts.istioGateway,
  "istiod-1.30.3.yaml": charts.istiod,
  "argo-cd-10.1.1.yaml": charts.argoCd,
  "prometheus-29.27.0.yaml": charts.prometheus,
};
const rendered: { file: string; obj: Obj }[] = fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml")).sort().flatMap((file) =>
  YAML.parseAllDocuments(fs.readFileSync(path.join(FIXTURES, file), "utf8")).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.join("; ")}`);
    return { file, obj: d.toJS() as Obj };
  }));
const chartObjects = rendered.map((r) => r.obj);
function chartObject(kind: string, name: string): Obj {
  const o = chartObjects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no fixture ${kind} ${name}`);
  return clone(o);
}
const containerOf = (obj: Obj, name: string): Obj => {
  const pod = podTemplate(typeToken(obj.apiVersion, obj.kind), obj)!;
  return [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].find((c: Obj) => c.name === name);
};
const resourcePolicies = policies.filter((x) => "validateResource" in x) as ResourceValidationPolicy[];
async function allViolations(obj: Obj, config: Obj = {}): Promise<string[]> {
  return (await Promise.all(resourcePolicies.map((p) => violations(p.name, obj, config)))).flat();
}

const oci = testContext("oci");
const HASH = bcryptHash("fixture-pw", "argocd-admin");

describe("policy pack on chart-rendered objects (test/fixtures/charts)", () => {
  it("the fixtures name the pinned chart versions and match the upstream schemas", () => {
    expect(Object.keys(FIXTURE_PINS).sort()).toEqual([...new Set(rendered.map((r) => r.file))]);
    for (const { file, obj } of rendered) {
      const pin = FIXTURE_PINS[file];
      expect(file, "fixture file names carry the pinned version: re-render them when a pin moves").toContain(pin.version);
      expect(obj.metadata.labels["helm.sh/chart"], `${file} ${obj.kind}/${obj.metadata.name}`).toBe(`${pin.chart}-${pin.version}`);
      expect(schemaError(obj as K8sDoc)).toBeUndefined();
    }
    expect(rendered.map((r) => `${r.obj.kind}/${r.obj.metadata.name}`)).toHaveLength(13);
  });

  it("the fixtures carry what our values builders set: resources, probes, security contexts, labels", () => {
    const ep = oci.endpoints;
    // Istio gateway: ours deep-merged over the chart default, which keeps limits.cpu.
    const gv = gatewayValues(oci) as Obj;
    const gw = chartObject("Deployment", GATEWAY_RELEASE);
    expect(gw.metadata.namespace).toBe(ISTIO_NAMESPACE);
    expect(gw.spec.template.metadata.labels).toMatchObject({ ...GATEWAY_SELECTOR, ...gv.labels });
    expect(containerOf(gw, "istio-proxy").resources).toEqual({ requests: gv.resources.requests, limits: { cpu: "2000m", ...gv.resources.limits } });
    expect(chartObject("Service", GATEWAY_RELEASE).spec.ports).toEqual(gv.service.ports);
    // istiod
    const iv = istiodValues(oci) as Obj;
    const istiod = chartObject("Deployment", "istiod");
    expect(istiod.spec.replicas).toBe(iv.replicaCount);
    expect(istiod.spec.template.metadata.labels).toMatchObject(ISTIOD_PODS);
    expect(containerOf(istiod, "discovery").resources).toEqual(iv.resources);
    expect(containerOf(istiod, "discovery").securityContext.seccompProfile).toEqual(iv.seccompProfile);
    // Argo CD
    const av = argoCdValues({ ctx: oci, adminPasswordHash: HASH, guestPasswordHash: HASH });
    const argo = (name: string) => chartObject(name === "argocd-application-controller" ? "StatefulSet" : "Deployment", name);
    const cases = [
      ["argocd-server", "server", av.server, ARGOCD_PODS.server],
      ["argocd-repo-server", "repo-server", av.repoServer, ARGOCD_PODS.repoServer],
      ["argocd-application-controller", "application-controller", av.controller, ARGOCD_PODS.controller],
      ["argocd-redis", "redis", av.redis, ARGOCD_PODS.redis],
      ["argocd-applicationset-controller", "applicationset-controller", av.applicationSet, ARGOCD_PODS.applicationSet],
    ] as const;
    for (const [workload, container, values, podLabels] of cases) {
      const obj = argo(workload);
      expect(obj.metadata.namespace).toBe(ep.argocd.namespace);
      expect(obj.spec.template.metadata.labels, workload).toMatchObject(podLabels);
      expect(containerOf(obj, container).resources, workload).toEqual(values.resources);
    }
    expect(containerOf(argo("argocd-repo-server"), "copyutil").resources).toEqual(av.repoServer.resources);
    expect(containerOf(argo("argocd-repo-server"), "repo-server").livenessProbe).toMatchObject(
      { timeoutSeconds: av.repoServer.livenessProbe.timeoutSeconds, initialDelaySeconds: av.repoServer.livenessProbe.initialDelaySeconds });
    expect(argo("argocd-applicationset-controller").spec.replicas).toBe(av.applicationSet.replicas);
    // The chart renders these probes only when the values enable them.
    for (const [workload, container, values] of [["argocd-redis", "redis", av.redis], ["argocd-applicationset-controller", "applicationset-controller", av.applicationSet]] as const) {
      expect(values.readinessProbe.enabled && values.livenessProbe.enabled, workload).toBe(true);
      expect(containerOf(argo(workload), container), workload).toHaveProperty("readinessProbe");
      expect(containerOf(argo(workload), container), workload).toHaveProperty("livenessProbe");
    }
    // Prometheus server.
    const pv = prometheusValues({ ctx: oci }) as Obj;
    const prom = chartObject("Deployment", "prometheus-server");
    expect(prom.metadata.namespace).toBe(ep.prometheus.namespace);
    expect(prom.spec.template.metadata.labels).toMatchObject(PROMETHEUS_SERVER_PODS);
    expect(prom.spec.template.spec.securityContext).toEqual(pv.server.securityContext);
    const server = containerOf(prom, "prometheus-server");
    expect(server.resources).toEqual(pv.server.resources);
    expect(server.securityContext).toEqual(pv.server.containerSecurityContext);
    expect(server.args).toContain(`--storage.tsdb.retention.time=${pv.server.retention}`);
    // #13: no reloader sidecar (it needs the lifecycle API); the args the template renders from our values.
    expect(prom.spec.template.spec.containers.map((c: Obj) => c.name)).toEqual(["prometheus-server"]);
    expect(server.args).toEqual(chartServerArgs(pv));
    expect(server.args).not.toContain("--web.enable-lifecycle");
    expect(chartObject("Service", ep.prometheus.service).spec.ports).toEqual([{ name: "http", port: ep.prometheus.port, protocol: "TCP", targetPort: ep.prometheus.targetPort }]);
  });

  it("PM-11 PM-04 PM-06 every policy passes on the charts' rendered objects, together with ours", async () => {
    const found: string[] = [];
    for (const obj of chartObjects) for (const m of await allViolations(obj)) found.push(m);
    expect(found).toEqual([]);
    const ours = [deployment, svc, ...platformRoutes(oci)];
    for (const p of policies.filter((x) => "validateStack" in x)) expect(await stackViolations(p.name, [...chartObjects, ...ours]), p.name).toEqual([]);
  });

  it("PM-04 image auto passes only on the istio-proxy of a pod carrying the gateway injection markers", async () => {
    const gw = chartObject("Deployment", GATEWAY_RELEASE);
    expect(containerOf(gw, "istio-proxy").image).toBe(ISTIO_AUTO_IMAGE);
    expect(await violations("pm-04-mutable-tags-pull-always", gw)).toEqual([]);
    const withTemplates = clone(gw);
    withTemplates.spec.template.metadata.annotations["inject.istio.io/templates"] = "gateway, extra";
    expect(await violations("pm-04-mutable-tags-pull-always", withTemplates)).toEqual([]);
    const broken: [string, (o: Obj) => void][] = [
      ["no inject label", (o) => { delete o.spec.template.metadata.labels["sidecar.istio.io/inject"]; }],
      ["inject label false", (o) => { o.spec.template.metadata.labels["sidecar.istio.io/inject"] = "false"; }],
      ["inject annotation false", (o) => { o.spec.template.metadata.annotations["sidecar.istio.io/inject"] = "false"; }],
      ["no templates annotation", (o) => { delete o.spec.template.metadata.annotations["inject.istio.io/templates"]; }],
      ["sidecar template", (o) => { o.spec.template.metadata.annotations["inject.istio.io/templates"] = "sidecar"; }],
      ["other container name", (o) => { o.spec.template.spec.containers[0].name = "proxy"; }],
      ["as an init container", (o) => { o.spec.template.spec.initContainers = o.spec.template.spec.containers.splice(0, 1, { ...api }); }],
      ["second container", (o) => { o.spec.template.spec.containers.push({ ...api, name: "helper", image: ISTIO_AUTO_IMAGE }); }],
      ["pulled Always", (o) => { delete o.spec.template.metadata.labels["sidecar.istio.io/inject"]; o.spec.template.spec.containers[0].imagePullPolicy = "Always"; }],
    ];
    for (const [what, patch] of broken) {
      const bad = clone(gw);
      patch(bad);
      expect(await violations("pm-04-mutable-tags-pull-always", bad), what).toEqual([expect.stringContaining('image "auto", which only Istio\'s injector replaces')]);
    }
    expect(await violations("pm-04-mutable-tags-pull-always", withContainer(deployment, (c) => { c.image = ISTIO_AUTO_IMAGE; }))).toHaveLength(1);
    // The injector keeps an image the pod sets itself, so that one is judged like any other.
    const pinned = clone(gw);
    pinned.spec.template.spec.containers[0].image = "docker.io/istio/proxyv2:main";
    expect(await violations("pm-04-mutable-tags-pull-always", pinned)).toEqual([expect.stringContaining("mutable image")]);
  });

  it("PM-11 the gateway template supplies only istio-proxy's readiness; liveness exceptions are exactly the listed upstream containers", async () => {
    const probes = "pm-11-workloads-have-probes";
    const gw = chartObject("Deployment", GATEWAY_RELEASE);
    const uninjected = clone(gw);
    delete uninjected.spec.template.metadata.annotations["inject.istio.io/templates"];
    expect(await violations(probes, uninjected)).toEqual([expect.stringMatching(/istio-proxy has no readinessProbe\.$/)]);
    const extra = clone(gw);
    const { readinessProbe: _r, ...helper } = api as Obj;
    extra.spec.template.spec.containers.push({ ...helper, name: "helper" });
    expect(await violations(probes, extra)).toEqual([expect.stringMatching(/container helper has no readinessProbe\.$/)]);
    // Every exception names a fixture container that really has no liveness probe (none is stale)...
    for (const e of LIVENESS_EXCEPTIONS) {
      const obj = chartObjects.find((o) => o.metadata.namespace === e.namespace && o.metadata.name === e.workload && o.kind !== "Service");
      expect(obj, `${e.namespace}/${e.workload}`).toBeDefined();
      expect(containerOf(obj!, e.container), `${e.workload}/${e.container}`).not.toHaveProperty("livenessProbe");
      expect(e.reason).toMatch(/@ \d+\.\d+\.\d+/);
      // ...and covers that container only: not elsewhere, not under another name, not its readiness.
      const moved = clone(obj!);
      moved.metadata.namespace = "apps";
      expect(await violations(probes, moved), "other namespace").toEqual([expect.stringContaining("has no livenessProbe")]);
      const renamed = clone(obj!);
      renamed.metadata.name = `${e.workload}-2`;
      expect(await violations(probes, renamed), "other workload").toEqual([expect.stringContaining("has no livenessProbe")]);
      expect(await violations(probes, obj!, { exceptions: [] }), "config override").toEqual([expect.stringContaining("has no livenessProbe")]);
    }
    const istiod = chartObject("Deployment", "istiod");
    delete istiod.spec.template.spec.containers[0].readinessProbe;
    expect(await violations(probes, istiod)).toEqual([expect.stringMatching(/discovery has no readinessProbe\.$/)]);
  });

  it("PM-11 the argo-cd chart's redis and applicationset probes are rendered only because our values enable them", async () => {
    for (const name of ["argocd-redis", "argocd-applicationset-controller"]) {
      const chartDefault = chartObject("Deployment", name);
      for (const c of chartDefault.spec.template.spec.containers) { delete c.readinessProbe; delete c.livenessProbe; }
      expect(await violations("pm-11-workloads-have-probes", chartDefault), name).toEqual([expect.stringContaining("has no readinessProbe or livenessProbe")]);
    }
    // The redis probes run the chart's health scripts, which can fail (exit 1 unless PONG).
    expect(await violations("pm-11-exec-probes-can-fail", chartObject("Deployment", "argocd-redis"))).toEqual([]);
  });

  it("PM-06 a Service over Istio gateway pods is not judged by containerPorts; every other Service still is", async () => {
    const pm06 = "pm-06-service-targets-exposed-port";
    const gw = chartObject("Deployment", GATEWAY_RELEASE);
    const gwSvc = chartObject("Service", GATEWAY_RELEASE);
    expect(await stackViolations(pm06, [gw, gwSvc])).toEqual([]);
    // Envoy listens on 80/443 because Gateways say so; the pod declares only 15090.
    const plain = clone(gw);
    delete plain.spec.template.metadata.annotations["inject.istio.io/templates"];
    expect(await stackViolations(pm06, [plain, gwSvc])).toHaveLength(3);
    const istiod = chartObject("Deployment", "istiod");
    const istiodSvc = chartObject("Service", "istiod");
    expect(await stackViolations(pm06, [gw, gwSvc, istiod, istiodSvc])).toEqual([]);
    istiodSvc.spec.ports[2].targetPort = 15018;
    expect(await stackViolations(pm06, [gw, gwSvc, istiod, istiodSvc])).toEqual([expect.stringMatching(/https-webhook targets 15018/)]);
  });
});
