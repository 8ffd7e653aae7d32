// The sample application, delivered through Git: its source (template/, pushed to app/), its
// manifests (deploy/<environment>/, synced by Argo CD) and the few objects only the stack may
// create (namespace, pull secret, database password: secrets never go to Git).
//
// Initial image: the app's own image in the platform registry at the template's VERSION, not the
// podinfo placeholder. The release workflow only bumps the image tag, so probes, port and
// entrypoint must be this app's contract from the first commit: with podinfo (port 9898,
// /healthz, /readyz) the first real release would never become Ready. Until CI's first build
// (minutes after the bootstrap push) the pods wait in ImagePullBackOff; Argo Rollouts marks that
// first ReplicaSet stable ("Initial deploy"), and the first release goes through the canary steps,
// whose analysis passes on no traffic (PM-26) and on the new pods' success rate.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { stableYaml } from "../cluster/k3s-config";
import { analysisTemplate, evidenceTiming } from "../delivery/analysis";
import { canaryRollout, canarySteps } from "../delivery/rollout";
import { REGISTRY_PULL_SECRET, pullSecret, registryImage } from "../gitops/registry";
import { PLATFORM_GATEWAY } from "../mesh/istio";
import { destinationRule, meshNamespace, peerAuthentication, virtualService } from "../mesh/routing";
import { SCRAPE_INTERVAL } from "../monitoring/scrape";
import { ClusterContext } from "../lib/context";
import { REGISTRY_USER } from "../lib/endpoints";
import { container, K8sObject, podSecurityContext } from "../lib/k8s";
import { gitPolicies, policiesIn, trafficPlan } from "../traffic";
import { registerObject } from "../lib/objects";
import { applyOverlays } from "../lib/overlays";
import { sizeOf } from "../lib/sizes";
import { database, Database, databasePasswordSecret } from "./database";

export const SAMPLE_APP_NAMESPACE = "sample-app";
/** Image repository under the registry host; the release workflow pushes and bumps it. */
export const SAMPLE_IMAGE_REPOSITORY = "platform/sample-api";
/** Folder of the app's source in the bootstrap repository (the workflow's build context). */
export const SAMPLE_APP_DIR = "app";
export const API_NAME = "sample-api";
export const API_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/name": API_NAME, "app.kubernetes.io/part-of": "sample-app" };
/** The image's documented port (Dockerfile EXPOSE 8080), named (PM-06, PM-33). */
export const API_PORT = { name: "http", containerPort: 8080 } as const;
export const DB_NAME = "sample-db";
/** The Secret the stack creates; Git manifests only reference it. */
export const DB_PASSWORD_SECRET = { name: "sample-db-password", key: "password" } as const;
/** The Rollout owns the VirtualService weights: Argo CD must not revert them (Argo Rollouts docs, istio.md "Integrating with GitOps"). */
export const SAMPLE_APP_IGNORE_DIFFERENCES = [
  { group: "networking.istio.io", kind: "VirtualService", name: API_NAME, jqPathExpressions: [".spec.http[].route[].weight"] },
] as const;
export const SAMPLE_APP_SYNC_OPTIONS = ["ApplyOutOfSyncOnly=true", "RespectIgnoreDifferences=true"] as const;

const TEMPLATE_DIR = path.join(__dirname, "template");
const SKIP = /(^|\/)(__pycache__|\.pytest_cache|\.venv)(\/|$)|\.py[co]$/;

/** The app's source template, path -> text, sorted; build artefacts skipped. Read at build time. */
export function appSourceFiles(dir: string = TEMPLATE_DIR): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = rel ? `${rel}/${entry.name}` : entry.name;
      if (SKIP.test(p)) continue;
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) out[p] = fs.readFileSync(path.join(dir, p), "utf8");
    }
  };
  walk("");
  if (!out.Dockerfile || !out.VERSION) throw new Error(`appSourceFiles: ${dir} has no Dockerfile or VERSION`);
  return out;
}

/** The template's VERSION (semver): the initial image tag and the base of CI's versions. */
export function appVersion(files: Record<string, string> = appSourceFiles()): string {
  const v = (files.VERSION ?? "").trim();
  if (!/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`sample app VERSION "${v}" must be x.y.z`);
  return v;
}

export interface SampleAppManifestArgs {
  readonly ctx: ClusterContext;
  /** @default the app's image in the platform registry at the template's VERSION (see top of file) */
  readonly image?: string;
  /** @default SAMPLE_APP_NAMESPACE */
  readonly namespace?: string;
  /** Stable replicas. @default 2 (what plan.ts budgets) */
  readonly replicas?: number;
  /** Minimum success ratio of the analysis. @default 0.95 */
  readonly successThreshold?: number;
  /** PromQL rate window: at least 4 scrape intervals (SCRAPE_INTERVAL). @default 4 x SCRAPE_INTERVAL ("1m") */
  readonly rateWindow?: string;
}

function defaults(args: SampleAppManifestArgs) {
  const ns = args.namespace ?? SAMPLE_APP_NAMESPACE;
  const image = args.image ?? registryImage(args.ctx.endpoints, SAMPLE_IMAGE_REPOSITORY, appVersion());
  return { ns, image, size: args.ctx.profile.size };
}

/** The database of the sample app: one object for host, Secret and policies (PM-23). */
export function sampleDatabase(ctx: ClusterContext, ns: string = SAMPLE_APP_NAMESPACE): Database {
  return database({
    name: DB_NAME, namespace: ns, database: "sample", user: "sample", passwordSecret: { ...DB_PASSWORD_SECRET },
    clientLabels: { ...API_LABELS }, resources: sizeOf(ctx.profile.size, "samplePostgres"),
    syncResources: sizeOf(ctx.profile.size, "samplePasswordSync"),
  });
}

/** The analysis argument carrying the canary's pod-template hash (Argo Rollouts sets it per run). */
export const CANARY_HASH_ARG = "canary-hash";

/**
 * Success ratio of the canary pods' non-probe requests, from Envoy's view (istio_requests_total), so a
 * canary that is down (503 from the sidecar, never counted by the app) fails the analysis; filtered on
 * the canary's pod-template hash, so stable traffic cannot mask it. Empty (not NaN) without traffic,
 * so PM-26's guard applies.
 */
export function successRateQuery(ns: string, window: string): string {
  if (!/^\d+[smh]$/.test(window)) throw new Error(`successRateQuery: window "${window}" must look like 2m`);
  // Prometheus keeps pod labels (labelmap), so rollouts-pod-template-hash becomes rollouts_pod_template_hash.
  const sel = (extra = "") => `istio_requests_total{reporter="destination",namespace="${ns}",app_kubernetes_io_name="${API_NAME}",rollouts_pod_template_hash="{{args.${CANARY_HASH_ARG}}}"${extra}}`;
  const all = `sum(rate(${sel()}[${window}]))`;
  return `(${all} - (sum(rate(${sel(',response_code=~"5.."')}[${window}])) or vector(0))) / (${all} > 0)`;
}

/**
 * The same ratio from the callers' side (reporter="source": the gateway's Envoy), for requests routed
 * to the canary Service. A canary that stops being ready leaves its endpoints: its own series stand
 * still and successRateQuery goes empty (which PM-26's guard passes), while the gateway keeps routing
 * the canary's share to the Service and records the 503s ("no healthy upstream") here.
 */
export function callerSuccessRateQuery(ns: string, canaryService: string, window: string): string {
  if (!/^\d+[smh]$/.test(window)) throw new Error(`callerSuccessRateQuery: window "${window}" must look like 2m`);
  const sel = (extra = "") => `istio_requests_total{reporter="source",destination_service_namespace="${ns}",destination_service_name="${canaryService}"${extra}}`;
  const all = `sum(rate(${sel()}[${window}]))`;
  return `(${all} - (sum(rate(${sel(',response_code=~"5.."')}[${window}])) or vector(0))) / (${all} > 0)`;
}

/** Everything Argo CD syncs from deploy/<environment>/, before overlays. No Namespace, no credential. */
export function sampleAppManifests(args: SampleAppManifestArgs): K8sObject[] {
  const { ctx } = args;
  const { ns, image, size } = defaults(args);
  const threshold = args.successThreshold ?? 0.95;
  if (typeof threshold !== "number" || !(threshold > 0 && threshold <= 1)) throw new Error(`sampleAppManifests: successThreshold ${threshold} must be in (0, 1]`);
  const db = sampleDatabase(ctx, ns);

  const api = container({
    name: "api",
    image,
    ports: [API_PORT],
    resources: sizeOf(size, "sampleApi"),
    // PM-22: the dev overlay rewrites /health/ready to /health; never special-cased here.
    readiness: { http: { path: "/health/ready", port: API_PORT.name } },
    liveness: { http: { path: "/health", port: API_PORT.name } },
    // No command/args: the image's own entrypoint (PM-33).
    envFrom: db.clientEnvFrom,
    env: db.clientEnv,
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }, ...db.clientVolumeMounts],
  });
  const analysisName = `${API_NAME}-success-rate`;
  const { rollout, stableService, canaryService } = canaryRollout({
    name: API_NAME,
    namespace: ns,
    selector: { ...API_LABELS },
    replicas: args.replicas ?? 2,
    podAnnotations: {
      // Istio merges these app metrics into the sidecar's :15020 endpoint (enablePrometheusMerge).
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(API_PORT.containerPort),
      "prometheus.io/path": "/metrics",
      // The readiness check reaches the database through the sidecar: start it first.
      "proxy.istio.io/config": '{"holdApplicationUntilProxyStarts": true}',
    },
    podSpec: {
      securityContext: podSecurityContext(),
      automountServiceAccountToken: false,
      imagePullSecrets: [{ name: REGISTRY_PULL_SECRET }],
      containers: [api],
      volumes: [{ name: "tmp", emptyDir: { sizeLimit: "16Mi" } }, ...db.clientVolumes],
    },
    canary: {
      steps: canarySteps([20, 80, 100], analysisName, { args: [{ name: CANARY_HASH_ARG, valueFrom: { podTemplateHashValue: "Latest" } }] }),
      trafficRouting: { istio: { virtualService: { name: API_NAME, routes: ["primary"] } } },
    },
  });
  const stable = stableService.metadata.name;
  const canary = canaryService.metadata.name;
  const port = API_PORT.containerPort;

  // 15s scrapes: 1m window, a measurement every 45s after 1m, 5 of them (4 min), one bad one tolerated.
  const timing = evidenceTiming(SCRAPE_INTERVAL, args.rateWindow);
  const analysis = analysisTemplate({
    name: analysisName, namespace: ns, endpoints: ctx.endpoints, threshold,
    query: successRateQuery(ns, timing.rateWindow), args: [{ name: CANARY_HASH_ARG }],
    extraMetrics: [{ name: "caller-success-rate", query: callerSuccessRateQuery(ns, canary, timing.rateWindow) }],
    interval: timing.interval, count: 5, failureLimit: 1, initialDelay: timing.initialDelay,
    evidence: { scrapeInterval: timing.scrapeInterval, rateWindow: timing.rateWindow },
  });
  // Host-level split: Argo Rollouts sets the two weights of route "primary" (starts 100/0).
  const vs = virtualService({
    name: API_NAME, namespace: ns, hosts: [ctx.endpoints.hostnames.app], gateways: [PLATFORM_GATEWAY],
    http: [{
      name: "primary",
      route: [{ host: stable, port, weight: 100 }, { host: canary, port, weight: 0 }],
      retries: { attempts: 2, perTryTimeout: "3s" },
      timeout: "10s",
    }],
  });
  const trafficPolicy = {
    connectionPool: { tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 100 } },
    outlierDetection: { consecutive5xxErrors: 5, interval: "30s", baseEjectionTime: "30s" },
  };
  const rules = [stable, canary].map((host) => destinationRule({ name: host, namespace: ns, host, ...trafficPolicy }));
  // The gateway proxies users in (traffic.ts, gateway-to-sample-api: its destination side ships
  // with the app); everything else in the namespace stays denied. The plan names SAMPLE_APP_NAMESPACE.
  const fromGateway = gitPolicies(trafficPlan(ctx, ctx.traffic), ns);

  return [
    ...db.objects,
    ...fromGateway,
    stableService,
    canaryService,
    analysis,
    ...rules,
    vs,
    peerAuthentication(ns),
    rollout,
  ];
}

function assertNoOutputs(value: unknown, where: string): void {
  if (pulumi.Output.isInstance(value)) throw new Error(`${where}: a Pulumi Output cannot be rendered into Git (secrets stay in the stack)`);
  if (Array.isArray(value)) value.forEach((v, i) => assertNoOutputs(v, `${where}[${i}]`));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) assertNoOutputs(v, `${where}.${k}`);
}

/** File name per object: `<kind>.yaml`, or `<kind>-<name>.yaml` when the kind repeats. */
export function manifestFileNames(objects: readonly K8sObject[]): string[] {
  const count = new Map<string, number>();
  for (const o of objects) count.set(o.kind, (count.get(o.kind) ?? 0) + 1);
  const names = objects.map((o) => (count.get(o.kind) === 1 ? `${o.kind.toLowerCase()}.yaml` : `${o.kind.toLowerCase()}-${o.metadata.name}.yaml`));
  if (new Set(names).size !== names.length) throw new Error(`manifestFileNames: duplicate objects (${names.join(", ")})`);
  return names;
}

/** The folder Argo CD syncs for this environment (services.ts' Application points here). */
export function deployDir(ctx: ClusterContext): string {
  return `deploy/${ctx.environment}`;
}

/** deploy/<env>/<file>.yaml -> YAML, after the environment's overlays (PM-21, PM-22). Deterministic. */
export function renderSampleApp(ctx: ClusterContext, opts: Omit<SampleAppManifestArgs, "ctx"> = {}): Record<string, string> {
  const objects = sampleAppManifests({ ...opts, ctx }).map((o) => applyOverlays(o, ctx.profile.overlays));
  const names = manifestFileNames(objects);
  const out: Record<string, string> = {};
  objects.forEach((o, i) => {
    const file = `${deployDir(ctx)}/${names[i]}`;
    assertNoOutputs(o, file);
    // A JSON copy: shared sub-objects (a Service's labels and selector) must not become YAML aliases.
    out[file] = stableYaml(JSON.parse(JSON.stringify(o)));
  });
  return out;
}

/** The app's source as the bootstrap repository seeds it, under app/ (the user's after the first push). */
export function sampleAppSourceFiles(): Record<string, string> {
  return Object.fromEntries(Object.entries(appSourceFiles()).map(([p, text]) => [`${SAMPLE_APP_DIR}/${p}`, text]));
}

/** The bootstrap repository's app content: source under app/ plus the rendered manifests. */
export function sampleAppRepoFiles(ctx: ClusterContext, opts: Omit<SampleAppManifestArgs, "ctx"> = {}): Record<string, string> {
  return { ...sampleAppSourceFiles(), ...renderSampleApp(ctx, opts) };
}

export interface SampleAppStackArgs {
  readonly ctx: ClusterContext;
  /** Database password (secret): only ever in a Secret the stack creates. */
  readonly dbPassword: pulumi.Input<string>;
  /** Registry password (secret) for the pull secret (PM-13). */
  readonly registryPassword: pulumi.Input<string>;
  /** @default SAMPLE_APP_NAMESPACE */
  readonly namespace?: string;
}

/** What the stack (not Git) creates: namespace, baseline policies, pull secret, DB password. */
export function sampleAppStackObjects(args: SampleAppStackArgs): K8sObject[] {
  const ns = args.namespace ?? SAMPLE_APP_NAMESPACE;
  return [
    // Pod Security privileged: istio-init adds NET_ADMIN/NET_RAW (no Istio CNI), which baseline forbids.
    meshNamespace(ns),
    // Default deny, DNS, sidecars to istiod, Prometheus's scrapes (traffic.ts).
    ...policiesIn(args.ctx, ns),
    pullSecret(ns, args.ctx.endpoints.registry.host, REGISTRY_USER, args.registryPassword),
    databasePasswordSecret(sampleDatabase(args.ctx, ns), args.dbPassword),
  ];
}

export interface SampleAppArgs {
  readonly ctx: ClusterContext;
  /** Registry password (secret), for the namespace's pull secret (PM-13). */
  readonly registryPassword: pulumi.Input<string>;
  /** Database password (secret). @default generated (random, 32 alphanumerics) */
  readonly dbPassword?: pulumi.Input<string>;
  /** @default SAMPLE_APP_NAMESPACE */
  readonly namespace?: string;
}

/** Registers the stack-side objects; `files` is what the bootstrap repository pushes. */
export class SampleApp extends pulumi.ComponentResource {
  public readonly namespace: string;
  /** app/** and deploy/<environment>/**: plain text, no secret. */
  public readonly files: Record<string, string>;
  /** app/**: seeded once, then the user's. */
  public readonly sourceFiles: Record<string, string>;
  /** deploy/<environment>/**: rendered by the stack, which keeps them up to date in Git. */
  public readonly manifestFiles: Record<string, string>;
  public readonly dbPassword: pulumi.Output<string>;
  /** The namespace resource: the Argo CD Application must sync after it. */
  public readonly namespaceResource: pulumi.CustomResource;

  constructor(name: string, args: SampleAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:apps:SampleApp", name, {}, opts);
    const ns = args.namespace ?? SAMPLE_APP_NAMESPACE;
    this.dbPassword = pulumi.secret(args.dbPassword ?? new random.RandomPassword(`${name}-db-password`, {
      length: 32, special: false, minUpper: 2, minLower: 2, minNumeric: 2,
    }, { parent: this }).result);
    const [nsObj, ...rest] = sampleAppStackObjects({ ctx: args.ctx, dbPassword: this.dbPassword, registryPassword: args.registryPassword, namespace: ns });
    this.namespaceResource = registerObject(nsObj, args.ctx.profile.overlays, { parent: this });
    for (const obj of rest) registerObject(obj, args.ctx.profile.overlays, { parent: this, dependsOn: [this.namespaceResource] });
    this.namespace = ns;
    this.sourceFiles = sampleAppSourceFiles();
    this.manifestFiles = renderSampleApp(args.ctx, { namespace: ns });
    this.files = { ...this.sourceFiles, ...this.manifestFiles };
    this.registerOutputs({ namespace: ns });
  }
}
