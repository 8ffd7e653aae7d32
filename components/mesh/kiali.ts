// Kiali (kiali-server chart) in istio-system: a read-only UI behind the gateway that asks for a
// Kubernetes token (issue 13: anonymous, it showed the whole cluster, pod logs included, to anyone),
// a kiali-viewer ServiceAccount to get one for, Prometheus from the endpoints object, health probes
// on the path its web root implies and late enough (PM-35).
// Keys checked against kiali/helm-charts docs/kiali-server-2.29.0.tgz: values.yaml and
// templates/{deployment,role,role-viewer}.yaml.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { ClusterContext } from "../lib/context";
import { K8sObject } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { sizeOf } from "../lib/sizes";
import { pinnedChart } from "../lib/charts";
import { charts } from "../lib/versions";
import { ISTIO_NAMESPACE } from "./istio";

/** Kiali pod labels (templates/_helpers.tpl kiali-server.selectorLabels, instance_name "kiali"). */
export const KIALI_PODS: Readonly<Record<string, string>> = { "app.kubernetes.io/name": "kiali", "app.kubernetes.io/instance": "kiali" };
export const KIALI_METRICS_PORT = 9090;
/**
 * The login-token signing key lives in our Secret; the chart gets only a reference to it. Left
 * empty, the chart renders `randAlphaNum 32` (templates/_helpers.tpl "kiali-server.login_token.
 * signing_key", kiali/helm-charts#303) into the ConfigMap and its checksum into the pod template,
 * so every `pulumi up` replaced the ConfigMap and rolled Kiali. A `secret:<name>:<key>` value makes
 * the chart mount that key at /kiali-override-secrets/login-token-signing-key/value.txt
 * (_helpers.tpl "kiali-server.credential-secrets"), which the server reads (kiali/kiali v2.29.0
 * config/config.go SecretFileLoginTokenSigningKey). A plain secret Output in the values would not
 * stay secret: the helm v4 Chart resolves its values and only marks rendered v1/Secret objects
 * secret (pulumi-kubernetes provider/pkg/provider/yaml/v2/yaml.go), so the key would sit in
 * plaintext in the ConfigMap and in the state.
 */
export const KIALI_SIGNING_KEY_SECRET = "kiali-signing-key";
export const KIALI_SIGNING_KEY_KEY = "key";
/** Kiali refuses other lengths for non-anonymous strategies: 16, 24 or 32 bytes (config/config.go validateSigningKey). */
export const KIALI_SIGNING_KEY_LENGTHS: readonly number[] = [16, 24, 32];
export const KIALI_SIGNING_KEY_LENGTH = 32;

/** Our Secret holding the signing key (a secret Output generated once by the component). */
export function kialiSigningKeySecret(key: pulumi.Input<string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: KIALI_SIGNING_KEY_SECRET, namespace: ISTIO_NAMESPACE, labels: { "app.kubernetes.io/name": "kiali" } },
    stringData: { [KIALI_SIGNING_KEY_KEY]: pulumi.secret(key) },
  };
}

/** PM-35: Kiali waits for its cluster-wide cache before it reports healthy. */
export const KIALI_MIN_LIVENESS_DELAY = 30;

export interface ApiGroupRule {
  readonly apiGroups: readonly string[];
  readonly verbs: readonly string[];
}

/** PM-35: what Kiali must read, or it never leaves "waiting for cluster-scoped cache to sync". */
export function kialiRequiredRbac(): ApiGroupRule[] {
  const read = ["get", "list", "watch"];
  return ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"].map((g) => ({ apiGroups: [g], verbs: read }));
}

/**
 * The istio.io rule of the chart's read-only ClusterRole, as seen upstream in kiali/helm-charts
 * docs/kiali-server-2.29.0.tgz, kiali-server/templates/role-viewer.yaml (used when
 * view_only_mode is true): apiGroups networking/security/extensions/telemetry istio.io and
 * inference.networking.k8s.io, resources "*", verbs get/list/watch. role.yaml (the write role)
 * has the same groups with create/delete/patch added. Re-check when charts.kiali moves.
 */
export const KIALI_CHART_VIEWER_RBAC = {
  chartVersion: "2.29.0",
  source: "kiali/helm-charts docs/kiali-server-2.29.0.tgz kiali-server/templates/role-viewer.yaml",
  rules: [
    {
      apiGroups: ["networking.istio.io", "security.istio.io", "extensions.istio.io", "telemetry.istio.io", "inference.networking.k8s.io"],
      resources: ["*"],
      verbs: ["get", "list", "watch"],
    },
  ],
} as const;

/** The chart builds every probe path as `<web_root without trailing slash>/healthz` (templates/deployment.yaml). */
export function kialiHealthPath(webRoot: string): string {
  if (!webRoot.startsWith("/")) throw new Error(`kiali web_root must start with /, got "${webRoot}"`);
  return `${webRoot.replace(/\/+$/, "")}/healthz`;
}

/**
 * The read-only identity users log in as: `kubectl -n istio-system create token kiali-viewer
 * --duration=8h`, pasted into Kiali's login page. Under the token strategy Kiali acts with the
 * user's token for what the user sees (namespaces, Istio config, pod logs: kiali/kiali v2.29.0
 * business/workloads.go streamParsedLogs uses userClients) and keeps its own ServiceAccount (the
 * chart's kiali-viewer ClusterRole, role-viewer.yaml) for its caches. The chart's ClusterRole is
 * named kiali-viewer too, hence the platform- prefix here.
 */
export const KIALI_VIEWER = { serviceAccount: "kiali-viewer", clusterRole: "platform-kiali-viewer" } as const;

/**
 * What the viewer may read: the objects Kiali's pages show, get/list/watch only. No Secrets, no
 * ConfigMaps, no pods/log (logs may carry credentials; the admin has kubectl), no exec or
 * port-forward. Kiali's token login lists namespaces with the token and needs at least one
 * (handlers/authentication/token_auth_controller.go).
 */
export function kialiViewerRules(): { apiGroups: string[]; resources: string[]; verbs: string[] }[] {
  const read = ["get", "list", "watch"];
  return [
    { apiGroups: [""], resources: ["namespaces", "pods", "services", "endpoints", "replicationcontrollers"], verbs: read },
    { apiGroups: ["apps"], resources: ["deployments", "replicasets", "statefulsets", "daemonsets"], verbs: read },
    { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: read },
    { apiGroups: ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"], resources: ["*"], verbs: read },
    { apiGroups: ["gateway.networking.k8s.io"], resources: ["gatewayclasses", "gateways", "grpcroutes", "httproutes", "referencegrants", "tcproutes", "tlsroutes"], verbs: read },
  ];
}

/** The kiali-viewer ServiceAccount, its ClusterRole and the binding (no token Secret: tokens are requested, short-lived). */
export function kialiViewerObjects(): K8sObject[] {
  const labels = { "app.kubernetes.io/name": "kiali", "app.kubernetes.io/component": "viewer" };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: KIALI_VIEWER.serviceAccount, namespace: ISTIO_NAMESPACE, labels }, automountServiceAccountToken: false },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: KIALI_VIEWER.clusterRole, labels }, rules: kialiViewerRules() },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: KIALI_VIEWER.clusterRole, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: KIALI_VIEWER.clusterRole },
      subjects: [{ kind: "ServiceAccount", name: KIALI_VIEWER.serviceAccount, namespace: ISTIO_NAMESPACE }],
    },
  ];
}

export interface KialiArgs {
  readonly ctx: ClusterContext;
  /** Served at the root of its own host (kiali.<domain>), so the health path is /healthz. @default "/" */
  readonly webRoot?: string;
  /** Liveness initialDelaySeconds; at least 30 (PM-35). @default 30 */
  readonly livenessDelaySeconds?: number;
}

export function kialiValues(args: KialiArgs): Record<string, unknown> {
  const { ctx } = args;
  const webRoot = args.webRoot ?? "/";
  kialiHealthPath(webRoot);
  const liveness = args.livenessDelaySeconds ?? KIALI_MIN_LIVENESS_DELAY;
  if (!Number.isInteger(liveness) || liveness < KIALI_MIN_LIVENESS_DELAY) {
    throw new Error(`kiali liveness initialDelaySeconds must be >= ${KIALI_MIN_LIVENESS_DELAY} (PM-35), got ${liveness}`);
  }
  return {
    // Token, not OpenID: Gitea could be the provider, but that needs an OAuth2 application made in
    // Gitea and its secret carried to Kiali; a token needs nothing new and carries the user's RBAC.
    auth: { strategy: "token" },
    // No logs tab: the chart then drops pods/log from Kiali's own ClusterRole too
    // (role-viewer.yaml `has "logs-tab" disabled_features`); the viewer has none either.
    kiali_feature_flags: { disabled_features: ["logs-tab"] },
    // A reference, never the key: see KIALI_SIGNING_KEY_SECRET.
    login_token: { signing_key: `secret:${KIALI_SIGNING_KEY_SECRET}:${KIALI_SIGNING_KEY_KEY}` },
    // One cluster. Left on (the chart's default), the render `lookup`s every Secret in istio-system
    // (_helpers.tpl "kiali-server.remote-cluster-secrets"), so the Deployment would follow live state.
    clustering: { autodetect_secrets: { enabled: false } },
    deployment: {
      // Read-only UI; Kiali's own ServiceAccount gets the chart's kiali-viewer role (role-viewer.yaml:
      // view_only_mode or a strategy other than anonymous), never the write role.
      view_only_mode: true,
      cluster_wide_access: true,
      instance_name: ctx.endpoints.kiali.service,
      image_pull_policy: "IfNotPresent",
      resources: sizeOf(ctx.profile.size, "kiali"),
      // Our NetworkPolicies (below and in Istio) are the only ones in istio-system.
      network_policy: { enabled: false },
      // The chart reads these keys (deployment.yaml: `| int | default N`); startup keeps its own.
      probes: {
        liveness: { initial_delay_seconds: liveness, period_seconds: 30 },
        readiness: { initial_delay_seconds: 10, period_seconds: 10 },
        startup: { initial_delay_seconds: 30, period_seconds: 10, failure_threshold: 12 },
      },
    },
    server: { port: ctx.endpoints.kiali.port, web_root: webRoot },
    external_services: {
      prometheus: { enabled: true, url: ctx.endpoints.prometheus.internalUrl },
      grafana: { enabled: false },
      tracing: { enabled: false },
      istio: { root_namespace: ISTIO_NAMESPACE },
    },
  };
}

export class Kiali extends pulumi.ComponentResource {
  public readonly chart: k8s.helm.v4.Chart;
  public readonly healthPath: string;

  /** Construct after Istio (its namespace and CRDs): pass `dependsOn: [istio]` in opts. */
  constructor(name: string, args: KialiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:mesh:Kiali", name, {}, opts);
    const values = kialiValues(args);
    this.healthPath = kialiHealthPath(args.webRoot ?? "/");
    // Generated once and kept in the state (no keepers): the same key on every `up`.
    const key = new random.RandomPassword(`${name}-signing-key`, { length: KIALI_SIGNING_KEY_LENGTH, special: false }, { parent: this });
    // The token strategy encrypts its session cookie with this key (AES-GCM): still needed.
    const keySecret = registerObject(kialiSigningKeySecret(key.result), args.ctx.profile.overlays, { parent: this });
    for (const obj of kialiViewerObjects()) registerObject(obj, args.ctx.profile.overlays, { parent: this });
    // Kiali's flows are in istio-system's policies, which the Istio component registers (traffic.ts).
    this.chart = pinnedChart(name, charts.kiali, { release: "kiali", namespace: ISTIO_NAMESPACE, values }, { parent: this, dependsOn: [keySecret] });
    this.registerOutputs({ healthPath: this.healthPath });
  }
}
