import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { needs } from "./helpers/binaries";
import { Created, mocks, plain, isSecretInput } from "./helpers/mocks";
import {
  API_LABELS, API_PORT, appSourceFiles, appVersion, DB_PASSWORD_SECRET, renderSampleApp, SAMPLE_APP_NAMESPACE,
  sampleAppManifests, sampleAppRepoFiles, sampleAppStackObjects, SAMPLE_IMAGE_REPOSITORY, successRateQuery,
} from "../components/apps/sample-app";
import { releaseWorkflow } from "../components/gitops/bootstrap-repo";
import { REGISTRY_PULL_SECRET } from "../components/gitops/registry";
import { PLATFORM_GATEWAY } from "../components/mesh/istio";
import { ClusterContext } from "../components/lib/context";
import { K8sObject } from "../components/lib/k8s";
import { images } from "../components/lib/versions";
import { conditionGuardsEmptyResult, execProbeCannotFail } from "../policy/checks";
import { policies } from "../policy/policies";
import { typeToken } from "../policy/pods";
import { K8sDoc, schemaError } from "../scripts/render";
import { testContext } from "./helpers/context";

const dev: ClusterContext = testContext("dev");
const oci: ClusterContext = testContext("oci", { domain: "example.com", nodeAddress: "10.0.1.10" });

/** The rendered Git files, parsed back: what Argo CD will apply. */
function rendered(ctx: ClusterContext): Record<string, K8sObject> {
  return Object.fromEntries(Object.entries(renderSampleApp(ctx)).map(([p, text]) => [p, YAML.parse(text)]));
}
const byKind = (objs: Record<string, K8sObject>, kind: string) => Object.values(objs).filter((o) => o.kind === kind);
const one = (objs: Record<string, K8sObject>, kind: string, name?: string) => {
  const found = byKind(objs, kind).filter((o) => name === undefined || o.metadata.name === name);
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0];
};
const apiContainer = (objs: Record<string, K8sObject>) => one(objs, "Rollout").spec.template.spec.containers[0];
const podSpecs = (objs: Record<string, K8sObject>) =>
  Object.values(objs).filter((o) => o.spec?.template?.spec?.containers).map((o) => o.spec.template);
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const files = appSourceFiles();

describe("rendered manifests", () => {
  it("one file per object under deploy/<environment>/, the Rollout in rollout.yaml (the release workflow bumps it)", () => {
    const out = renderSampleApp(dev);
    for (const p of Object.keys(out)) expect(p).toMatch(/^deploy\/dev\/[a-z-]+\.yaml$/);
    expect(YAML.parse(out["deploy/dev/rollout.yaml"]).kind).toBe("Rollout");
    expect(Object.keys(renderSampleApp(oci))).toContain("deploy/oci/rollout.yaml");
    // No Namespace in Git: the stack creates it (with the pull and password Secrets).
    expect(byKind(rendered(dev), "Namespace")).toHaveLength(0);
  });

  it("deterministic: same input, same bytes, sorted keys, no YAML aliases", () => {
    const a = renderSampleApp(oci);
    expect(renderSampleApp(oci)).toEqual(a);
    for (const text of Object.values(a)) {
      expect(text).not.toMatch(/[&*]a\d+/);
      expect(text.split("\n")[0]).toBe(`apiVersion: ${YAML.parse(text).apiVersion}`);
    }
  });

  it("PM-06 every Service targets a named port that the pods it selects expose", () => {
    const objs = rendered(oci);
    const services = byKind(objs, "Service");
    expect(services.map((s) => s.metadata.name).sort()).toEqual(["sample-api-canary", "sample-api-stable", "sample-db", "sample-db-headless"]);
    for (const svc of services) {
      const pods = podSpecs(objs).filter((t) => selects(svc.spec.selector, t.metadata.labels));
      expect(pods, svc.metadata.name).toHaveLength(1);
      const names = pods[0].spec.containers.flatMap((c: any) => c.ports.map((p: any) => p.name));
      for (const p of svc.spec.ports) {
        expect(typeof p.targetPort, `${svc.metadata.name} targetPort`).toBe("string");
        expect(names).toContain(p.targetPort);
      }
    }
  });

  it("PM-11 every probe exercises the service: HTTP on the API, pg_isready/TCP on Postgres", () => {
    const objs = rendered(oci);
    for (const t of podSpecs(objs)) {
      for (const c of t.spec.containers) {
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          expect(probe, c.name).toBeDefined();
          if (probe.exec) expect(execProbeCannotFail(probe.exec.command)).toBe(false);
          else expect(probe.httpGet ?? probe.tcpSocket).toBeDefined();
        }
      }
    }
    const api = apiContainer(objs);
    expect(api.readinessProbe.httpGet).toEqual({ path: "/health/ready", port: "http" });
    expect(api.livenessProbe.httpGet).toEqual({ path: "/health", port: "http" });
  });

  it("PM-21 dev drops the Postgres pod securityContext, oci keeps fsGroup 999", () => {
    const devSts = one(rendered(dev), "StatefulSet");
    const ociSts = one(rendered(oci), "StatefulSet");
    expect(devSts.spec.template.spec.securityContext).toBeUndefined();
    expect(ociSts.spec.template.spec.securityContext).toMatchObject({ fsGroup: 999, runAsUser: 999 });
    // The API mounts no claim: its pod securityContext stays on dev too.
    expect(one(rendered(dev), "Rollout").spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
  });

  it("PM-22 readiness is /health on dev, /health/ready on oci", () => {
    expect(apiContainer(rendered(dev)).readinessProbe.httpGet.path).toBe("/health");
    expect(apiContainer(rendered(oci)).readinessProbe.httpGet.path).toBe("/health/ready");
    // The base builder never special-cases dev: the overlay does it.
    const base = sampleAppManifests({ ctx: dev }).find((o) => o.kind === "Rollout")!;
    expect(base.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe("/health/ready");
  });

  it("PM-23 the API's env, its egress and the database's ingress all name the same database", () => {
    const objs = rendered(oci);
    const api = apiContainer(objs);
    const rolloutLabels = one(objs, "Rollout").spec.template.metadata.labels;
    const client = one(objs, "Secret");
    const dbSvc = one(objs, "Service", "sample-db");
    const sts = one(objs, "StatefulSet");
    expect(api.envFrom).toEqual([{ secretRef: { name: client.metadata.name } }]);
    expect(client.stringData.DATABASE_HOST).toBe(`sample-db.${SAMPLE_APP_NAMESPACE}.svc.cluster.local`);
    expect(client.stringData.DATABASE_PORT).toBe(String(dbSvc.spec.ports[0].port));
    expect(selects(dbSvc.spec.selector, sts.spec.template.metadata.labels)).toBe(true);
    const egress = one(objs, "NetworkPolicy", "allow-to-sample-db").spec;
    expect(selects(egress.podSelector.matchLabels, rolloutLabels)).toBe(true);
    expect(egress.egress[0].to[0].podSelector.matchLabels).toEqual(dbSvc.spec.selector);
    const ingress = one(objs, "NetworkPolicy", "allow-into-sample-db").spec;
    expect(selects(ingress.ingress[0].from[0].podSelector.matchLabels, rolloutLabels)).toBe(true);
    const dbPort = sts.spec.template.spec.containers[0].ports.find((p: any) => p.name === dbSvc.spec.ports[0].targetPort).containerPort;
    expect(egress.egress[0].ports[0].port).toBe(dbPort);
    expect(ingress.ingress[0].ports[0].port).toBe(dbPort);
    // The password: by reference, from the Secret the stack creates under that very name and key.
    const ref = api.env.find((e: any) => e.name === "DATABASE_PASSWORD").valueFrom.secretKeyRef;
    const stackSecret = sampleAppStackObjects({ ctx: oci, dbPassword: "x", registryPassword: "y" })
      .find((o) => o.kind === "Secret" && o.metadata.name === ref.name)!;
    expect(stackSecret).toBeDefined();
    expect(Object.keys(stackSecret.stringData)).toEqual([ref.key]);
    expect(ref).toEqual(DB_PASSWORD_SECRET);
  });

  it("PM-33 the image's own entrypoint and its documented, named port", () => {
    const api = apiContainer(rendered(oci));
    expect(api.command).toBeUndefined();
    expect(api.args).toBeUndefined();
    const exposed = Number(/^EXPOSE (\d+)$/m.exec(files.Dockerfile)![1]);
    expect(api.ports).toEqual([{ name: API_PORT.name, containerPort: exposed, protocol: "TCP" }]);
    expect(files["sample_api/server.py"]).toMatch(new RegExp(`DEFAULT_PORT = ${exposed}\\b`));
    for (const p of ["/health", "/health/ready", "/metrics"]) expect(files["sample_api/server.py"]).toContain(`"${p}"`);
    expect(files.Dockerfile).toMatch(/^ENTRYPOINT \["python", "-m", "sample_api"\]$/m);
  });

  it("PM-13 PM-15 pulls the app's image from the platform registry with the namespace's pull secret", () => {
    const pod = one(rendered(oci), "Rollout").spec.template.spec;
    expect(pod.imagePullSecrets).toEqual([{ name: REGISTRY_PULL_SECRET }]);
    expect(pod.containers[0].image).toBe(`${oci.endpoints.registry.host}/${SAMPLE_IMAGE_REPOSITORY}:${appVersion()}`);
    const pull = sampleAppStackObjects({ ctx: oci, dbPassword: "x", registryPassword: "y" }).find((o) => o.metadata.name === REGISTRY_PULL_SECRET)!;
    expect(pull.type).toBe("kubernetes.io/dockerconfigjson");
    expect(pull.metadata.namespace).toBe(SAMPLE_APP_NAMESPACE);
  });

  it("PM-17 PM-25 PM-26 canary 20% -> analysis -> 80% -> analysis -> 100% with a guarded, bounded analysis", () => {
    const objs = rendered(oci);
    const canary = one(objs, "Rollout").spec.strategy.canary;
    const analysis = one(objs, "AnalysisTemplate");
    const t = analysis.metadata.name;
    // Each analysis run gets the newest pod-template hash: it judges the canary pods only.
    const run = { templates: [{ templateName: t }], args: [{ name: "canary-hash", valueFrom: { podTemplateHashValue: "Latest" } }] };
    expect(canary.steps).toEqual([
      { setWeight: 20 }, { analysis: run },
      { setWeight: 80 }, { analysis: run },
      { setWeight: 100 },
    ]);
    expect(analysis.spec.args).toEqual([{ name: "canary-hash" }]);
    const metric = analysis.spec.metrics[0];
    expect(metric.count).toBeGreaterThan(0);
    expect(metric.failureLimit).toBeDefined();
    expect(conditionGuardsEmptyResult(metric.successCondition)).toBe(true);
    expect(metric.provider.prometheus.address).toBe(oci.endpoints.prometheus.internalUrl);
    // Envoy's view of the canary pods: a canary that is down answers 503 from the sidecar, which
    // the app's own counter never sees; stable pods cannot mask it.
    expect(metric.provider.prometheus.query).toContain('istio_requests_total{reporter="destination"');
    expect(metric.provider.prometheus.query).toContain('rollouts_pod_template_hash="{{args.canary-hash}}"');
    expect(metric.provider.prometheus.query).toContain('response_code=~"5.."');
    expect(files["sample_api/metrics.py"]).toContain('http_requests_total{code="%s"');
    // No traffic gives an empty vector, not NaN: the denominator is filtered by > 0.
    expect(successRateQuery("ns", "2m")).toMatch(/\/ \(sum\(rate\(.*\[2m\]\)\) > 0\)$/);
  });

  it("PM-39 Istio: the Rollout splits the VirtualService route that the gateway serves for the app host; STRICT mTLS", () => {
    const objs = rendered(oci);
    const canary = one(objs, "Rollout").spec.strategy.canary;
    const vs = one(objs, "VirtualService", canary.trafficRouting.istio.virtualService.name);
    expect(vs.spec.hosts).toEqual([oci.endpoints.hostnames.app]);
    expect(vs.spec.gateways).toEqual([PLATFORM_GATEWAY]);
    const route = vs.spec.http.find((r: any) => r.name === canary.trafficRouting.istio.virtualService.routes[0]);
    expect(route.route.map((d: any) => [d.destination.host, d.weight])).toEqual([[canary.stableService, 100], [canary.canaryService, 0]]);
    for (const d of route.route) {
      const svc = one(objs, "Service", d.destination.host);
      expect(svc.spec.ports.map((p: any) => p.port)).toContain(d.destination.port.number);
      expect(one(objs, "DestinationRule", d.destination.host).spec.trafficPolicy.tls.mode).toBe("ISTIO_MUTUAL");
    }
    expect(one(objs, "PeerAuthentication").spec.mtls.mode).toBe("STRICT");
    const gw = one(objs, "NetworkPolicy", "ingress-gateway-to-sample-api").spec;
    expect(gw.ingress[0].ports[0].port).toBe(API_PORT.containerPort);
    expect(gw.podSelector.matchLabels).toEqual(API_LABELS);
  });

  it("no secret reaches Git: the DB password only exists in the stack's Secret", () => {
    const password = "Sup3rSecretDbPassw0rd";
    const stack = sampleAppStackObjects({ ctx: oci, dbPassword: password, registryPassword: "r" });
    expect(stack.some((o) => o.kind === "Secret" && o.metadata.name === DB_PASSWORD_SECRET.name)).toBe(true);
    const repo = sampleAppRepoFiles(oci);
    expect(Object.values(repo).join("\n")).not.toContain(password);
    expect(Object.keys(one(rendered(oci), "Secret").stringData).sort()).toEqual(["DATABASE_HOST", "DATABASE_NAME", "DATABASE_PORT", "DATABASE_USER"]);
  });

  it.each([["dev", dev], ["oci", oci]] as const)("Git manifests and stack objects pass the policy pack and the upstream schemas (%s)", async (_env, ctx) => {
    const stack = sampleAppStackObjects({ ctx, dbPassword: "x", registryPassword: "y" })
      .map((o) => (o.kind === "Secret" ? { ...o, stringData: Object.fromEntries(Object.keys(o.stringData).map((k) => [k, "redacted"])) } : o));
    const objs = [...Object.values(rendered(ctx)), ...stack];
    const errors = objs.map((o) => schemaError(o as K8sDoc)).filter((e) => e);
    expect(errors).toEqual([]);
    const args = objs.map((o) => ({
      type: typeToken(o.apiVersion, o.kind), props: o, urn: `${o.kind}:${o.metadata.name}`, name: o.metadata.name,
      getConfig: () => ({}), dependencies: [], propertyDependencies: {},
    }));
    const found: string[] = [];
    const report = (m: string) => found.push(m);
    for (const p of policies) {
      if ("validateStack" in p) await p.validateStack({ resources: args, getConfig: () => ({}) } as any, report);
      else for (const a of args) for (const fn of [p.validateResource!].flat()) await fn(a as any, report);
    }
    expect(found).toEqual([]);
  });

  it("the release workflow's bump step rewrites the rendered rollout.yaml", () => {
    const repo = renderSampleApp(dev);
    const wf = YAML.parse(releaseWorkflow({ ctx: dev, serverUrl: "http://k3d-platform-server-0:30300", image: SAMPLE_IMAGE_REPOSITORY, manifests: ["deploy/dev/rollout.yaml"] }));
    const bump = wf.jobs.release.steps.find((s: any) => s.name === "bump").run as string;
    const sed = bump.split("\n").filter((l) => l.startsWith("sed "));
    expect(sed).toHaveLength(1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bump-"));
    try {
      fs.mkdirSync(path.join(dir, "deploy/dev"), { recursive: true });
      fs.writeFileSync(path.join(dir, "deploy/dev/rollout.yaml"), repo["deploy/dev/rollout.yaml"]);
      const script = sed[0].replace("${{ steps.version.outputs.version }}", "0.1.0-main.7");
      const r = spawnSync("bash", ["-c", script], { cwd: dir, env: { ...process.env, IMAGE: wf.env.IMAGE }, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const bumped = YAML.parse(fs.readFileSync(path.join(dir, "deploy/dev/rollout.yaml"), "utf8"));
      expect(bumped.spec.template.spec.containers[0].image).toBe(`${wf.env.IMAGE}:0.1.0-main.7`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ["threshold 0", { successThreshold: 0 }, /successThreshold/],
    ["threshold above 1", { successThreshold: 1.5 }, /successThreshold/],
    ["zero replicas", { replicas: 0 }, /replicas/],
    ["latest image", { image: "registry.platform.internal:5000/platform/sample-api:latest" }, /pinned tag/],
    ["loopback image", { image: "localhost:5000/platform/sample-api:1.0.0" }, /PM-15/],
    ["bad namespace", { namespace: "Sample_App" }, /namespace|DNS/],
    ["bad rate window", { rateWindow: "2 minutes" }, /window/],
  ])("refuses %s", (_label, patch, error) => {
    expect(() => sampleAppManifests({ ctx: oci, ...patch })).toThrow(error);
  });
});

describe("app template (seeded into Gitea under app/)", () => {
  it("PM-12 multi-stage Dockerfile: virtualenv, a test stage that runs tests/, no --user installs", () => {
    // Instructions only: comments may name what is forbidden.
    const d = files.Dockerfile.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
    const stages = [...d.matchAll(/^FROM (\S+) AS (\S+)$/gm)].map((m) => m[2]);
    expect(stages).toEqual(["builder", "test", "runtime"]);
    expect(d).toMatch(/^RUN python -m venv \/opt\/venv$/m);
    expect(d).not.toMatch(/--user\b/);
    const test = d.slice(d.indexOf("AS test"), d.indexOf("AS runtime"));
    expect(test).toMatch(/^COPY tests\/ \.\/tests\/$/m);
    expect(test).toMatch(/^RUN python -m unittest discover -s tests/m);
    const runtime = d.slice(d.indexOf("AS runtime"));
    expect(runtime).toContain("COPY --from=builder /opt/venv /opt/venv");
    expect(runtime).toContain("COPY --from=test ");
    expect(runtime).not.toMatch(/COPY (?!--from)/);
    expect(runtime).toMatch(/^USER \d+:\d+$/m);
    expect(runtime).not.toMatch(/^USER 0/m);
    expect(files[".dockerignore"]).toContain("!tests");
    for (const line of files["requirements.txt"].split("\n").filter((l) => l.trim() && !l.startsWith("#"))) expect(line).toMatch(/==/);
  });

  it("the Dockerfile's base image is the python pin in versions.ts (multi-arch slim)", () => {
    expect(/^ARG PYTHON_IMAGE=(\S+)$/m.exec(files.Dockerfile)![1]).toBe(images.python);
    expect(images.python).toMatch(/python:3\.12\.\d+-slim@sha256:[0-9a-f]{64}$/);
  });

  it("appSourceFiles walks the template deterministically and skips build artefacts", () => {
    const keys = Object.keys(files);
    expect(keys).toEqual([...keys].sort((a, b) => a.localeCompare(b)));
    expect(keys).toEqual(expect.arrayContaining(["Dockerfile", ".dockerignore", "README.md", "VERSION", "requirements.txt", "sample_api/server.py", "tests/test_server.py"]));
    expect(keys.some((k) => /__pycache__|\.pyc$/.test(k))).toBe(false);
    expect(appVersion()).toMatch(/^\d+\.\d+\.\d+$/);
    const repo = sampleAppRepoFiles(dev);
    expect(repo["app/Dockerfile"]).toBe(files.Dockerfile);
    expect(repo["app/VERSION"]).toBeDefined();
  });

  const python = needs("python3");
  python.it("the app's own unit tests pass (python3 -m unittest on the seeded files)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sample-app-"));
    try {
      for (const [p, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
        fs.writeFileSync(path.join(dir, p), text);
      }
      const r = spawnSync(python.bin("python3"), ["-B", "-m", "unittest", "discover", "-s", "tests", "-t", "."], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/Ran \d+ tests/);
      expect(r.stderr).toMatch(/\nOK/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("stack-side objects", () => {
  it("the namespace: Pod Security privileged (istio-init), Istio injection, default deny plus mesh allows", () => {
    const objs = sampleAppStackObjects({ ctx: oci, dbPassword: "x", registryPassword: "y" });
    const ns = objs.find((o) => o.kind === "Namespace")!;
    expect(ns.metadata.name).toBe(SAMPLE_APP_NAMESPACE);
    expect(ns.metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "privileged", "istio-injection": "enabled" });
    const policies = objs.filter((o) => o.kind === "NetworkPolicy").map((o) => o.metadata.name);
    // The namespace's share of the traffic plan: sidecars to istiod, Prometheus's scrapes in, and the
    // database backup's dump (to the database) and upload (to the object store).
    expect([...policies].sort()).toEqual([
      "allow-dns", "default-deny", "egress-postgres-backup-to-backup-store", "egress-postgres-backup-to-sample-db",
      "egress-sample-app-to-istiod", "ingress-postgres-backup-to-sample-db", "ingress-prometheus-to-sample-app",
    ]);
  });
});

describe("SampleApp component (mocks)", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });
  afterAll(() => { created.length = 0; });

  it("registers namespace, pull secret and a secret DB password; its files hold no secret", async () => {
    const { SampleApp } = await import("../components/apps/sample-app");
    const app = new SampleApp("sample-app", { ctx: dev, registryPassword: pulumi.secret("reg-pass") });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const types = created.map((c) => c.type);
    expect(types).toContain("kubernetes:core/v1:Namespace");
    expect(types).toContain("random:index/randomPassword:RandomPassword");
    const secrets = created.filter((c) => c.type === "kubernetes:core/v1:Secret");
    const db = secrets.find((s) => s.inputs.metadata.name === DB_PASSWORD_SECRET.name)!;
    expect(db).toBeDefined();
    const data = db.inputs.stringData;
    expect(isSecretInput(data) || isSecretInput(data[DB_PASSWORD_SECRET.key])).toBe(true);
    const generated = plain(data)[DB_PASSWORD_SECRET.key];
    expect(generated).toMatch(/^mock-/);
    expect(Object.values(app.files).join("\n")).not.toContain(generated);
    expect(Object.keys(app.files)).toEqual(expect.arrayContaining(["app/Dockerfile", "deploy/dev/rollout.yaml"]));
    const pull = secrets.find((s) => s.inputs.metadata.name === REGISTRY_PULL_SECRET)!;
    expect(isSecretInput(pull.inputs.stringData) || isSecretInput(pull.inputs.stringData[".dockerconfigjson"])).toBe(true);
    // Git content is not created as resources by this component.
    expect(types).not.toContain("kubernetes:argoproj.io/v1alpha1:Rollout");
  });
});
