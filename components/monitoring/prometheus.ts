// Prometheus (prometheus-community `prometheus` chart, server only) in the monitoring namespace:
// our own scrape jobs (kube-state-metrics, istiod, annotated pods incl. Istio's merged sidecar
// metrics), retention from the profile, and NetworkPolicies that let Argo Rollouts (PM-27), Kiali
// and the gateway in. Keys checked against prometheus-community/helm-charts
// charts/prometheus/values.yaml and templates/cm.yaml @ prometheus-29.27.0.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace } from "../lib/k8s";
import { allowDns, allowEgress, allowIngress, defaultDeny } from "../lib/network";
import { overlayChartValues } from "../lib/overlays";
import { registerObject } from "../lib/objects";
import { SizeClass, sizeOf } from "../lib/sizes";
import { pinnedChart } from "../lib/charts";
import { charts } from "../lib/versions";
import { API_SERVER_PORT, ROLLOUTS_CONTROLLER_PODS, ROLLOUTS_METRICS_PORT } from "../delivery/rollouts";
import { ISTIO_MERGED_METRICS_PORT, GATEWAY_SELECTOR } from "../mesh/routing";
import { ISTIO_NAMESPACE } from "../mesh/istio";
import { KIALI_PODS } from "../mesh/kiali";
import { ksmTarget, KSM_PORTS, PROMETHEUS_SERVER_PODS } from "./kube-state-metrics";
import { SCRAPE_INTERVAL, scrapeTimeout } from "./scrape";

export { PROMETHEUS_SERVER_PODS };

/** Release name: the chart then names the Service `prometheus-server` (endpoints.ts). */
export const PROMETHEUS_RELEASE = "prometheus";

/** Default jobs of chart >= 28 (values.yaml `scrapeConfigs`), all turned off in favour of ours. */
export const CHART_DEFAULT_JOBS = [
  "kubernetes-api-servers", "kubernetes-nodes", "kubernetes-nodes-cadvisor", "kubernetes-service-endpoints",
  "kubernetes-service-endpoints-slow", "prometheus-pushgateway", "kubernetes-services", "kubernetes-pods", "kubernetes-pods-slow",
] as const;

/** Data volume per size class; local-path on one node, so modest. */
export const STORAGE_BY_SIZE: Record<SizeClass, string> = { small: "2Gi", standard: "10Gi" };

/** Ports Prometheus scrapes outside its namespace: istiod, merged sidecar/gateway metrics, Envoy, Rollouts, Kiali. */
export const SCRAPE_PORTS: readonly number[] = [15014, ISTIO_MERGED_METRICS_PORT, 15090, ROLLOUTS_METRICS_PORT, 9090];

const HARDENED = {
  allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true,
  capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
};

/** Scrape jobs keyed by job name (the chart's `scrapeConfigs` map). */
export function scrapeConfigs(ctx: ClusterContext): Record<string, unknown> {
  const off = Object.fromEntries(CHART_DEFAULT_JOBS.map((j) => [j, { enabled: false }]));
  return {
    ...off,
    // Stays: the chart's own self-scrape on localhost:9090.
    prometheus: { enabled: true },
    // PM-20: the target our KubeStateMetrics component creates.
    "kube-state-metrics": { static_configs: [{ targets: [ksmTarget(ctx)] }] },
    istiod: {
      kubernetes_sd_configs: [{ role: "endpointslice", namespaces: { names: ["istio-system"] } }],
      relabel_configs: [{
        source_labels: ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
        action: "keep", regex: "istiod;http-monitoring",
      }],
    },
    // Pods annotated prometheus.io/scrape: the sample app and every sidecar (Istio rewrites the
    // annotations to 15020/stats/prometheus, app + Envoy merged), the gateway, Rollouts, Kiali.
    "annotated-pods": {
      honor_labels: true,
      kubernetes_sd_configs: [{ role: "pod" }],
      relabel_configs: [
        { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], action: "keep", regex: "true" },
        { source_labels: ["__meta_kubernetes_pod_phase"], action: "drop", regex: "Pending|Succeeded|Failed|Completed" },
        { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scheme"], action: "replace", regex: "(https?)", target_label: "__scheme__" },
        { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"], action: "replace", regex: "(.+)", target_label: "__metrics_path__" },
        {
          source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"],
          action: "replace", regex: "(\\d+);((([0-9]+?)(\\.|$)){4})", replacement: "$2:$1", target_label: "__address__",
        },
        { action: "labelmap", regex: "__meta_kubernetes_pod_label_(.+)" },
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
      ],
    },
  };
}

export interface PrometheusArgs {
  readonly ctx: ClusterContext;
  /** Data volume size. @default STORAGE_BY_SIZE[ctx.profile.size] */
  readonly storageSize?: string;
  /** Extra pod ports to scrape outside the namespace (apps without a sidecar). @default [] */
  readonly extraScrapePorts?: readonly number[];
  /** Port the API server listens on behind the `kubernetes` Service. @default 6443 */
  readonly apiServerPort?: number;
}

export function prometheusValues(args: PrometheusArgs): Record<string, unknown> {
  const { ctx } = args;
  const size = args.storageSize ?? STORAGE_BY_SIZE[ctx.profile.size];
  if (!/^\d+(Mi|Gi|Ti)$/.test(size)) throw new Error(`prometheus storageSize must be like 10Gi, got "${size}"`);
  if (!/^\d+[smhdwy]$/.test(ctx.profile.prometheusRetention)) throw new Error(`prometheus retention "${ctx.profile.prometheusRetention}" is not a duration like 7d`);
  return {
    alertmanager: { enabled: false },
    "prometheus-pushgateway": { enabled: false },
    "prometheus-node-exporter": { enabled: false },
    // Ours, restricted to the namespaces that matter (PM-20).
    "kube-state-metrics": { enabled: false },
    server: {
      // Chart default 1m; the canary analysis' rate window and timing derive from this (scrape.ts).
      global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: scrapeTimeout(SCRAPE_INTERVAL), evaluation_interval: SCRAPE_INTERVAL },
      retention: ctx.profile.prometheusRetention,
      resources: sizeOf(ctx.profile.size, "prometheus"),
      // On dev, overlayChartValues drops fsGroup here (PM-21), like our own PVC workloads.
      persistentVolume: { enabled: true, size },
      securityContext: { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
      containerSecurityContext: HARDENED,
      service: { servicePort: ctx.endpoints.prometheus.port },
    },
    configmapReload: { prometheus: { resources: sizeOf(ctx.profile.size, "prometheusReload"), containerSecurityContext: HARDENED } },
    scrapeConfigs: scrapeConfigs(ctx),
  };
}

export function prometheusNamespace(ctx: ClusterContext): K8sObject {
  // Server and reloader hardened through values, KSM by container(): restricted fits.
  return namespace({ name: ctx.endpoints.prometheus.namespace, podSecurity: "restricted" });
}

export function prometheusNetworkPolicies(args: PrometheusArgs): K8sObject[] {
  const { ctx } = args;
  const ep = ctx.endpoints;
  const ns = ep.prometheus.namespace;
  const port = [{ port: ep.prometheus.targetPort }];
  const server = { ...PROMETHEUS_SERVER_PODS };
  const scrapePorts = [...new Set([...SCRAPE_PORTS, ...(args.extraScrapePorts ?? [])])].sort((a, b) => a - b);
  return [
    defaultDeny(ns),
    allowDns(ns),
    // PM-27: analysis runs in the argo-rollouts controller query Prometheus.
    allowIngress({ name: "allow-argo-rollouts", namespace: ns, podLabels: server, from: [{ namespace: ep.rollouts.namespace, podLabels: { ...ROLLOUTS_CONTROLLER_PODS } }], ports: port }),
    allowIngress({ name: "allow-kiali", namespace: ns, podLabels: server, from: [{ namespace: ep.kiali.namespace, podLabels: { ...KIALI_PODS } }], ports: port }),
    allowIngress({ name: "allow-ingress-gateway", namespace: ns, podLabels: server, from: [{ namespace: ISTIO_NAMESPACE, podLabels: { ...GATEWAY_SELECTOR } }], ports: port }),
    // Service discovery (kubernetes_sd) through the API server, which is the node.
    allowEgress({ name: "allow-prometheus-api-server", namespace: ns, podLabels: server, to: [{ cidr: "0.0.0.0/0" }], ports: [{ port: args.apiServerPort ?? API_SERVER_PORT }] }),
    allowEgress({ name: "allow-prometheus-to-kube-state-metrics", namespace: ns, podLabels: server, to: [{ namespace: ns, podLabels: { "app.kubernetes.io/name": "kube-state-metrics" } }], ports: [{ port: KSM_PORTS.metrics }] }),
    // Scrape targets in every namespace, on their metrics ports only.
    {
      apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
      metadata: { name: "allow-prometheus-scrapes", namespace: ns },
      spec: {
        podSelector: { matchLabels: server }, policyTypes: ["Egress"],
        egress: [{ to: [{ namespaceSelector: {} }], ports: scrapePorts.map((p) => ({ port: p, protocol: "TCP" })) }],
      },
    },
  ];
}

export class Prometheus extends pulumi.ComponentResource {
  public readonly namespace: string;
  /** In-cluster URL (the Service port, not 9090). */
  public readonly url: string;
  public readonly chart: k8s.helm.v4.Chart;
  /** The namespace resource: KubeStateMetrics and others in `monitoring` depend on it. */
  public readonly namespaceResource: pulumi.Resource;

  constructor(name: string, args: PrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:monitoring:Prometheus", name, {}, opts);
    const { ctx } = args;
    const overlays = ctx.profile.overlays;
    this.namespace = ctx.endpoints.prometheus.namespace;
    this.url = ctx.endpoints.prometheus.internalUrl;
    const values = prometheusValues(args);
    this.namespaceResource = registerObject(prometheusNamespace(ctx), overlays, { parent: this });
    const policies = prometheusNetworkPolicies(args).map((p) => registerObject(p, overlays, { parent: this, dependsOn: [this.namespaceResource] }));
    this.chart = pinnedChart(name, charts.prometheus, {
      release: PROMETHEUS_RELEASE,
      namespace: this.namespace,
      values: overlayChartValues(values, overlays, [["server", "securityContext"]]),
    }, { parent: this, dependsOn: [this.namespaceResource, ...policies] });
    this.registerOutputs({ namespace: this.namespace, url: this.url });
  }
}
