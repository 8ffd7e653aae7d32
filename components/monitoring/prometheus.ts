// Prometheus (prometheus-community `prometheus` chart, server only) in the monitoring namespace:
// our own scrape jobs (kube-state-metrics, istiod, annotated pods incl. Istio's merged sidecar
// metrics), retention from the profile, and NetworkPolicies that let Argo Rollouts (PM-27), Kiali
// and the gateway in. Keys checked against prometheus-community/helm-charts
// charts/prometheus/values.yaml and templates/cm.yaml @ prometheus-29.27.0.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace } from "../lib/k8s";
import { policiesIn } from "../traffic";
import { overlayChartValues } from "../lib/overlays";
import { registerObject } from "../lib/objects";
import { SizeClass, sizeOf } from "../lib/sizes";
import { pinnedChart } from "../lib/charts";
import { chartImages, charts, parseImage, tagWithDigest } from "../lib/versions";
import { ksmTarget, PROMETHEUS_SERVER_PODS } from "./kube-state-metrics";
import { SCRAPE_INTERVAL, scrapeTimeout } from "./scrape";
import { backupAlertRules } from "../backup/alerts";

export { PROMETHEUS_SERVER_PODS };

/** Release name: the chart then names the Service `prometheus-server` (endpoints.ts). */
export const PROMETHEUS_RELEASE = "prometheus";

/** Default jobs of chart >= 28 (values.yaml `scrapeConfigs`), all turned off in favour of ours. */
export const CHART_DEFAULT_JOBS = [
  "kubernetes-api-servers", "kubernetes-nodes", "kubernetes-nodes-cadvisor", "kubernetes-service-endpoints",
  "kubernetes-service-endpoints-slow", "prometheus-pushgateway", "kubernetes-services", "kubernetes-pods", "kubernetes-pods-slow",
] as const;

/**
 * Config reloads without the lifecycle API: `--config.auto-reload` (a bool; the chart renders
 * `--<key>=<value>`, which kingpin accepts) checks the config and rule files' checksum every
 * interval (v3.14.0 cmd/prometheus/main.go; the older `--enable-feature=auto-reload-config` is
 * deprecated there).
 */
export const PROMETHEUS_RELOAD_ARGS: Readonly<Record<string, string>> = { "config.auto-reload": "true", "config.auto-reload-interval": "30s" };

/** Data volume per size class; local-path on one node, so modest. */
export const STORAGE_BY_SIZE: Record<SizeClass, string> = { small: "2Gi", standard: "10Gi" };

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
      // repository:tag@digest; the chart's image.digest would drop the tag (templates/deploy.yaml).
      image: { repository: parseImage(chartImages.prometheus).name, tag: tagWithDigest(chartImages.prometheus) },
      resources: sizeOf(ctx.profile.size, "prometheus"),
      // On dev, overlayChartValues drops fsGroup here (PM-21), like our own PVC workloads.
      persistentVolume: { enabled: true, size },
      securityContext: { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
      containerSecurityContext: HARDENED,
      service: { servicePort: ctx.endpoints.prometheus.port },
      extraFlags: [],
      extraArgs: { ...PROMETHEUS_RELOAD_ARGS },
    },
    // No lifecycle API: the chart's default extraFlags [web.enable-lifecycle] let anyone who reaches
    // 9090 POST /-/quit (and stop every canary analysis). The reloader sidecar needs that API
    // (it POSTs /-/reload), so it goes too; Prometheus re-reads its config and rule files itself
    // when their checksum changes (--config.auto-reload, prometheus/prometheus v3.14.0
    // cmd/prometheus/main.go; the ConfigMap volume updates in place within about a minute).
    configmapReload: { prometheus: { enabled: false } },
    scrapeConfigs: scrapeConfigs(ctx),
    // Alert rules (no Alertmanager: they show on /alerts and as ALERTS). The chart's default
    // prometheus.yml already lists /etc/config/alerting_rules.yml in rule_files (values.yaml @ 29.27.0).
    serverFiles: { "alerting_rules.yml": { groups: [backupAlertRules(ctx)] } },
  };
}

export function prometheusNamespace(ctx: ClusterContext): K8sObject {
  // Server and reloader hardened through values, KSM by container(): restricted fits.
  return namespace({ name: ctx.endpoints.prometheus.namespace, podSecurity: "restricted" });
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
    // Prometheus's and kube-state-metrics' flows (traffic.ts): this component owns the namespace.
    const policies = policiesIn(ctx, this.namespace).map((p) => registerObject(p, overlays, { parent: this, dependsOn: [this.namespaceResource] }));
    this.chart = pinnedChart(name, charts.prometheus, {
      release: PROMETHEUS_RELEASE,
      namespace: this.namespace,
      values: overlayChartValues(values, overlays, [["server", "securityContext"]]),
    }, { parent: this, dependsOn: [this.namespaceResource, ...policies] });
    this.registerOutputs({ namespace: this.namespace, url: this.url });
  }
}
