// The offline render: every stack renders, byte for byte the same twice, and every object it
// renders passes the upstream schema (kubernetes-models and the Argo/Istio CRD models).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { STACKS, type Evaluation, type ProgramLoader } from "../scripts/evaluate";
import { K8sDoc, REDACTED, REDACTED_B64, RENDER_FORMAT, SECRET_DIGEST, renderStack, renderStacks, schemaError, testedPmIds } from "../scripts/render";
import type { Created } from "./helpers/mocks";
import { policies } from "../policy/policies";
import { typeToken } from "../policy/pods";

const loadProgram: ProgramLoader = {
  reset: () => vi.resetModules(),
  mocks: () => import("./helpers/mocks"),
  program: async () => (await import("../index")) as Record<string, unknown>,
};

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
}

let tmp: string;
const times = new Map<string, number>();

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
  for (const round of ["a", "b"]) {
    for (const [stack, r] of await renderStacks(STACKS, path.join(tmp, round), loadProgram)) {
      if (round === "a") times.set(stack, r.ms);
    }
  }
  const total = [...times.values()].reduce((a, b) => a + b, 0);
  console.log(`render time: ${[...times].map(([s, ms]) => `${s} ${Math.round(ms)} ms`).join(", ")}; total ${Math.round(total)} ms`);
}, 60_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("offline render", () => {
  it("renders all three stacks with a summary, within 10 s in total", () => {
    for (const stack of STACKS) {
      const summary = fs.readFileSync(path.join(tmp, "a", stack, "summary.md"), "utf8");
      expect(summary).toContain(`stack \`${stack}\``);
      expect(summary).toContain("## Resource budget");
      expect(summary).toMatch(/\| freeMemoryPercent \| `\d+` \|/);
      expect(summary).toContain("## URLs");
      expect(summary).toContain("## Post-mortem checks");
    }
    expect(fs.readFileSync(path.join(tmp, "a", "homelab", "summary.md"), "utf8")).toContain("`platform:sshPrivateKey`");
    expect([...times.values()].reduce((a, b) => a + b, 0)).toBeLessThan(10_000);
  });

  it("is deterministic: two renders are byte-identical", () => {
    const a = listFiles(path.join(tmp, "a"));
    expect(a).toEqual(listFiles(path.join(tmp, "b")));
    for (const f of a) expect(fs.readFileSync(path.join(tmp, "b", f)), f).toEqual(fs.readFileSync(path.join(tmp, "a", f)));
  });

  it("every rendered object matches its upstream schema; charts are pinned", () => {
    const errors: string[] = [];
    for (const stack of STACKS) {
      for (const f of listFiles(path.join(tmp, "a", stack)).filter((x) => x.endsWith(".yaml"))) {
        const doc = YAML.parse(fs.readFileSync(path.join(tmp, "a", stack, f), "utf8"));
        if (f.startsWith("charts/")) {
          expect(doc.version, `${stack}/${f}`).toMatch(/^v?\d+\.\d+\.\d+/);
          continue;
        }
        const error = schemaError(doc as K8sDoc);
        if (error) errors.push(`${stack}/${f}: ${error}`);
      }
    }
    expect(errors).toEqual([]);
  });

  it("every stack passes its own policy pack (what `pulumi preview --policy-pack policy` runs)", async () => {
    const found: string[] = [];
    for (const stack of STACKS) {
      const objs = listFiles(path.join(tmp, "a", stack)).filter((f) => f.endsWith(".yaml") && !f.startsWith("charts/"))
        .map((f) => YAML.parse(fs.readFileSync(path.join(tmp, "a", stack, f), "utf8")));
      const args = objs.map((o) => ({
        type: typeToken(o.apiVersion, o.kind), props: o, urn: `${stack}:${o.kind}:${o.metadata?.name}`, name: o.metadata?.name ?? "",
        getConfig: () => ({}), dependencies: [], propertyDependencies: {},
      }));
      const report = (m: string) => found.push(`${stack}: ${m}`);
      for (const p of policies) {
        if ("validateStack" in p) await p.validateStack({ resources: args, getConfig: () => ({}) } as any, report);
        else for (const a of args) for (const fn of [p.validateResource!].flat()) await fn(a as any, report);
      }
    }
    expect(found).toEqual([]);
  });

  it("the PM checks of the summary come from the test names", () => {
    const ids = testedPmIds();
    expect(ids.get("PM-25")).toContain("policy.test.ts");
    for (const id of ids.keys()) expect(id).toMatch(/^PM-\d{2}$/);
  });
});

// The renderer on objects of every kind the platform uses, secrets included: what the stacks will
// register once all components are wired, checked here already.
const SIG = "4dabf18193072939515e22adb298388d";
const secret = (value: string) => ({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value });

function created(type: string, name: string, inputs: Record<string, any>): Created {
  return { type, name, inputs };
}

const pod = {
  containers: [{
    name: "api", image: "registry.platform.internal:5000/app:1.2.3", ports: [{ name: "http", containerPort: 8000 }],
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
    readinessProbe: { httpGet: { path: "/health", port: "http" } }, livenessProbe: { httpGet: { path: "/health", port: "http" } },
    env: [{ name: "DB_PASSWORD", value: secret("hunter2") }],
  }],
};
const labels = { app: "api" };
const fixture: Evaluation = {
  stack: "fixture", placeholders: [], ms: 0, outputs: { budget: { requests: { memoryMi: 1 } }, urls: { app: "http://app" } },
  created: [
    created("kubernetes:core/v1:Secret", "db", { apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "apps" }, data: { password: secret("aHVudGVyMg==") }, stringData: { url: secret("postgres://u:hunter2@db") } }),
    created("kubernetes:apps/v1:Deployment", "api", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "apps" }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: pod } } }),
    created("kubernetes:argoproj.io/v1alpha1:Rollout", "rollout", { apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", metadata: { name: "api", namespace: "apps" }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: pod }, strategy: { canary: { steps: [{ setWeight: 20 }, { pause: { duration: "1m" } }] } } } }),
    created("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "analysis", { apiVersion: "argoproj.io/v1alpha1", kind: "AnalysisTemplate", metadata: { name: "success-rate", namespace: "apps" }, spec: { metrics: [{ name: "success-rate", interval: "30s", count: 4, successCondition: "len(result) == 0 || result[0] >= 0.95", provider: { prometheus: { address: "http://prometheus.monitoring:9090", query: "1" } } }] } }),
    created("kubernetes:argoproj.io/v1alpha1:Application", "app", { apiVersion: "argoproj.io/v1alpha1", kind: "Application", metadata: { name: "api", namespace: "argocd" }, spec: { project: "default", destination: { server: "https://kubernetes.default.svc", namespace: "apps" }, source: { repoURL: "http://gitea-http.gitea.svc.cluster.local:3000/p/a.git", targetRevision: "main", path: "." }, syncPolicy: { automated: { prune: true, selfHeal: true } } } }),
    created("kubernetes:networking.istio.io/v1:Gateway", "gw", { apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "web", namespace: "istio-system" }, spec: { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }] } }),
    created("kubernetes:networking.istio.io/v1:VirtualService", "vs", { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "api", namespace: "apps" }, spec: { hosts: ["app"], gateways: ["istio-system/web"], http: [{ route: [{ destination: { host: "api", subset: "stable" }, weight: 100 }] }] } }),
    created("kubernetes:networking.istio.io/v1:DestinationRule", "dr", { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "api", namespace: "apps" }, spec: { host: "api", subsets: [{ name: "stable", labels }] } }),
    created("kubernetes:security.istio.io/v1:PeerAuthentication", "pa", { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", namespace: "apps" }, spec: { mtls: { mode: "STRICT" } } }),
    created("kubernetes:helm.sh/v4:Chart", "argocd", { chart: "argo-cd", version: "10.1.1", repositoryOpts: { repo: "https://argoproj.github.io/argo-helm" }, namespace: "argocd", values: { configs: { secret: { argocdServerAdminPassword: secret("$2a$10$x") } } } }),
    created("pulumi:providers:kubernetes", "k8s", { kubeconfig: secret("kubeconfig") }),
  ],
};

describe("renderer", () => {
  const rendered = renderStack(fixture, new Map());
  const all = [...rendered.files.values()].join("\n");

  it("one file per object under its namespace, charts apart, secrets redacted with valid types", () => {
    expect([...rendered.files.keys()]).toEqual([
      "apps/analysistemplate-success-rate.yaml", "apps/deployment-api.yaml", "apps/destinationrule-api.yaml",
      "apps/peerauthentication-default.yaml", "apps/rollout-api.yaml", "apps/secret-db.yaml", "apps/virtualservice-api.yaml",
      "argocd/application-api.yaml", "charts/argocd.yaml", "istio-system/gateway-web.yaml", "render.json", "summary.md",
    ]);
    expect(all).not.toMatch(/hunter2|aHVudGVyMg|kubeconfig:|\$2a\$10\$x/);
    // Digests stand for secrets in render.json only; the YAML keeps the plain placeholder.
    for (const [f, text] of rendered.files) if (f !== "render.json") expect(text, f).not.toMatch(SECRET_DIGEST);
    const secretDoc = YAML.parse(rendered.files.get("apps/secret-db.yaml")!);
    expect(secretDoc.data.password).toBe(REDACTED_B64);
    expect(secretDoc.stringData.url).toBe(REDACTED);
    expect(YAML.parse(rendered.files.get("charts/argocd.yaml")!).version).toBe("10.1.1");
  });

  it("render.json: every object and chart with its resource, secrets as digests that tell a change, the budget", () => {
    const doc = JSON.parse(rendered.files.get("render.json")!);
    expect(doc.format).toBe(RENDER_FORMAT);
    expect(doc.stack).toBe("fixture");
    expect(doc.budget).toEqual({ requests: { memoryMi: 1 } });
    expect(doc.objects.map((o: any) => o.file)).toEqual(rendered.objects.map((o) => o.file));
    const db = doc.objects.find((o: any) => o.object.kind === "Secret");
    expect(db).toMatchObject({ type: "kubernetes:core/v1:Secret", name: "db" });
    expect(db.object.data.password).toMatch(/^\[secret:[0-9a-f]{16}\]$/);
    expect(doc.charts[0]).toMatchObject({ name: "argocd", inputs: { chart: "argo-cd", version: "10.1.1" } });
    const again = renderStack({ ...fixture, created: fixture.created.map((c) => c.name === "db"
      ? created(c.type, c.name, { ...c.inputs, data: { password: secret("b3RoZXI=") } }) : c) }, new Map());
    const db2 = JSON.parse(again.files.get("render.json")!).objects.find((o: any) => o.object.kind === "Secret");
    expect(db2.object.data.password).not.toBe(db.object.data.password);
    expect(db2.object.stringData.url).toBe(db.object.stringData.url);
  });

  it("every object of every kind passes its upstream schema after redaction", () => {
    expect(rendered.objects.map(({ object }) => schemaError(object)).filter(Boolean)).toEqual([]);
  });

  it("a schema error is reported, and an unknown kind is not waved through", () => {
    const deployment = rendered.objects.find((o) => o.object.kind === "Deployment")!.object as any;
    const broken = JSON.parse(JSON.stringify(deployment));
    broken.spec.template.spec.containers[0].ports[0].containerPort = "http";
    expect(schemaError(broken)).toMatch(/containerPort must be integer/);
    const noSelector = JSON.parse(JSON.stringify(deployment));
    delete noSelector.spec.selector;
    expect(schemaError(noSelector)).toMatch(/selector/);
    const gw = JSON.parse(JSON.stringify(rendered.objects.find((o) => o.object.kind === "Gateway")!.object));
    gw.spec.servers[0].port.number = "80";
    expect(schemaError(gw)).toBeDefined();
    expect(schemaError({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } })).toMatch(/no upstream schema/);
  });
});
