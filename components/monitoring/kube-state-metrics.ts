// kube-state-metrics as our own objects, not a chart (PM-20): the scrape target exists because its
// Deployment, Service, ServiceAccount and RBAC do, it watches only the namespaces that matter, and
// the traffic plan admits Prometheus. Shapes follow kubernetes/kube-state-metrics
// examples/standard/*.yaml at the pinned image's tag (v2.19.1).
import * as pulumi from "@pulumi/pulumi";
import { ClusterContext } from "../lib/context";
import { container, K8sObject, podSecurityContext, service, workloadPorts } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { sizeOf } from "../lib/sizes";
import { images } from "../lib/versions";

export const KSM_NAME = "kube-state-metrics";
export const KSM_PORTS = { metrics: 8080, telemetry: 8081 } as const;
export const KSM_PODS: Readonly<Record<string, string>> = { "app.kubernetes.io/name": KSM_NAME };
/** Prometheus server pod labels (prometheus chart _helpers.tpl prometheus.server.matchLabels, release "prometheus"). */
export const PROMETHEUS_SERVER_PODS: Readonly<Record<string, string>> = {
  "app.kubernetes.io/name": "prometheus",
  "app.kubernetes.io/component": "server",
};

/** `kube-state-metrics.<monitoring>.svc:8080`: the scrape target Prometheus is configured with. */
export function ksmTarget(ctx: ClusterContext): string {
  return `${KSM_NAME}.${ctx.endpoints.prometheus.namespace}.svc:${KSM_PORTS.metrics}`;
}

/**
 * What kube-state-metrics lists and watches, as data. Source: kubernetes/kube-state-metrics
 * examples/standard/cluster-role.yaml at tag v2.19.1 (v2.20.0 adds mutating/validating admission
 * policies, which need Kubernetes 1.36; kube-state-metrics CHANGELOG.md v2.20.0).
 */
export const KSM_RULES: readonly { apiGroups: string[]; resources: string[]; verbs: string[] }[] = [
  { apiGroups: [""], resources: ["configmaps", "nodes", "pods", "services", "serviceaccounts", "resourcequotas", "replicationcontrollers", "limitranges", "persistentvolumeclaims", "persistentvolumes", "namespaces", "endpoints"], verbs: ["list", "watch"] },
  { apiGroups: ["apps"], resources: ["statefulsets", "daemonsets", "deployments", "replicasets"], verbs: ["list", "watch"] },
  { apiGroups: ["batch"], resources: ["cronjobs", "jobs"], verbs: ["list", "watch"] },
  { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["list", "watch"] },
  { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
  { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
  { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["list", "watch"] },
  { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["list", "watch"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
  { apiGroups: ["storage.k8s.io"], resources: ["storageclasses", "volumeattachments"], verbs: ["list", "watch"] },
  { apiGroups: ["admissionregistration.k8s.io"], resources: ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"], verbs: ["list", "watch"] },
  { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies", "ingressclasses", "ingresses"], verbs: ["list", "watch"] },
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list", "watch"] },
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterrolebindings", "clusterroles", "rolebindings", "roles"], verbs: ["list", "watch"] },
];

/**
 * The collectors it runs (`--resources`): v2.19.1's DefaultResources (pkg/options/resource.go)
 * without `secrets`. Listing Secrets hands the whole object, data included, to whoever holds the
 * right (there is no metadata-only mode for it in v2.19.1), so kube-state-metrics gets neither the
 * collector nor the RBAC (issue 14); kube_secret_* series are gone, nothing here reads them.
 */
export const KSM_RESOURCES: readonly string[] = [
  "certificatesigningrequests", "configmaps", "cronjobs", "daemonsets", "deployments", "endpointslices",
  "horizontalpodautoscalers", "ingresses", "jobs", "leases", "limitranges", "mutatingwebhookconfigurations",
  "namespaces", "networkpolicies", "nodes", "persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets",
  "pods", "replicasets", "replicationcontrollers", "resourcequotas", "services", "statefulsets", "storageclasses",
  "validatingwebhookconfigurations", "volumeattachments",
];

/** The platform's own namespaces, from the endpoints object. */
export function platformNamespaces(ctx: ClusterContext): string[] {
  const ep = ctx.endpoints;
  return [ep.gitea.namespace, ep.registry.namespace, ep.argocd.namespace, ep.rollouts.namespace, ep.kiali.namespace, ep.prometheus.namespace, "kube-system"];
}

export interface KubeStateMetricsArgs {
  readonly ctx: ClusterContext;
  /** Namespaces to watch (`--namespaces=`, PM-20). @default platformNamespaces(ctx) */
  readonly namespaces?: readonly string[];
  /** Added to `namespaces`, e.g. the sample application's. @default [] */
  readonly extraNamespaces?: readonly string[];
}

export function ksmNamespaces(args: KubeStateMetricsArgs): string[] {
  const list = [...(args.namespaces ?? platformNamespaces(args.ctx)), ...(args.extraNamespaces ?? [])];
  if (list.length === 0) throw new Error("kube-state-metrics: at least one namespace to watch (PM-20)");
  for (const ns of list) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) throw new Error(`kube-state-metrics: "${ns}" is not a namespace name`);
  }
  return [...new Set(list)].sort();
}

/** ServiceAccount, ClusterRole, ClusterRoleBinding, Deployment, Service (its flows are in the traffic plan, registered with the monitoring namespace). */
export function kubeStateMetricsObjects(args: KubeStateMetricsArgs): K8sObject[] {
  const { ctx } = args;
  const ns = ctx.endpoints.prometheus.namespace;
  const namespaces = ksmNamespaces(args);
  const labels = { ...KSM_PODS, "app.kubernetes.io/component": "exporter" };
  const c = container({
    name: KSM_NAME,
    image: images.kubeStateMetrics,
    ports: [{ name: "http-metrics", containerPort: KSM_PORTS.metrics }, { name: "telemetry", containerPort: KSM_PORTS.telemetry }],
    resources: sizeOf(ctx.profile.size, "kubeStateMetrics"),
    // Upstream: readiness /readyz on telemetry, liveness /livez on http-metrics, 5s delay and timeout.
    readiness: { http: { path: "/readyz", port: "telemetry" } },
    liveness: { http: { path: "/livez", port: "http-metrics" } },
    readinessTiming: { initialDelaySeconds: 5, timeoutSeconds: 5 },
    livenessTiming: { initialDelaySeconds: 5, timeoutSeconds: 5 },
    args: [`--namespaces=${namespaces.join(",")}`, `--resources=${KSM_RESOURCES.join(",")}`, `--port=${KSM_PORTS.metrics}`, `--telemetry-port=${KSM_PORTS.telemetry}`],
    runAsUser: 65534,
  });
  const podSpec = {
    serviceAccountName: KSM_NAME,
    automountServiceAccountToken: true,
    nodeSelector: { "kubernetes.io/os": "linux" },
    securityContext: podSecurityContext(),
    containers: [c],
  };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: KSM_NAME, namespace: ns, labels } },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: KSM_NAME, labels }, rules: KSM_RULES.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: KSM_NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: KSM_NAME },
      subjects: [{ kind: "ServiceAccount", name: KSM_NAME, namespace: ns }],
    },
    {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: KSM_NAME, namespace: ns, labels },
      spec: { replicas: 1, selector: { matchLabels: { ...KSM_PODS } }, template: { metadata: { labels }, spec: podSpec } },
    },
    service({ name: KSM_NAME, namespace: ns, selector: { ...KSM_PODS }, ports: workloadPorts(podSpec as any), only: ["http-metrics"], labels }),
  ];
}

export class KubeStateMetrics extends pulumi.ComponentResource {
  /** The address Prometheus scrapes. */
  public readonly target: string;

  /** Lives in the monitoring namespace the Prometheus component creates: pass `dependsOn: [prometheus]`. */
  constructor(name: string, args: KubeStateMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:monitoring:KubeStateMetrics", name, {}, opts);
    this.target = ksmTarget(args.ctx);
    for (const obj of kubeStateMetricsObjects(args)) registerObject(obj, args.ctx.profile.overlays, { parent: this });
    this.registerOutputs({ target: this.target });
  }
}
