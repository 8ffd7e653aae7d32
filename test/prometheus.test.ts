import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { Created, find, findAll, mocks } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import { PROFILES } from "../components/lib/profiles";
import { sizeOf } from "../components/lib/sizes";
import { charts } from "../components/lib/versions";
import {
  CHART_DEFAULT_JOBS, prometheusNamespace, prometheusValues, PROMETHEUS_SERVER_PODS, scrapeConfigs,
} from "../components/monitoring/prometheus";
import { ROLLOUTS_CONTROLLER_PODS } from "../components/delivery/rollouts";
import { KIALI_PODS } from "../components/mesh/kiali";
import { KSM_PODS } from "../components/monitoring/kube-state-metrics";
import { durationSeconds, SCRAPE_INTERVAL } from "../components/monitoring/scrape";
import { allowed, planPolicyNames, platformPolicies } from "./helpers/netpol";
import { testContext } from "./helpers/context";
import { settle as settleMocks } from "./helpers/mocks";

const ctxOf = (env: "dev" | "oci"): ClusterContext => testContext(env, { nodeAddress: "10.0.1.11" });
const ctx = ctxOf("dev");
const settle = () => settleMocks(10);

describe("Prometheus values", () => {
  it("server only: alertmanager, pushgateway, node-exporter and the bundled kube-state-metrics off", () => {
    const v = prometheusValues({ ctx }) as any;
    expect(v.alertmanager.enabled).toBe(false);
    expect(v["prometheus-pushgateway"].enabled).toBe(false);
    expect(v["prometheus-node-exporter"].enabled).toBe(false);
    expect(v["kube-state-metrics"].enabled).toBe(false);
  });

  it("retention from the profile, resources from sizes.ts, PVC sized per environment", () => {
    const dev = prometheusValues({ ctx }) as any;
    const oci = prometheusValues({ ctx: ctxOf("oci") }) as any;
    expect(dev.server.retention).toBe(PROFILES.dev.prometheusRetention);
    expect(oci.server.retention).toBe(PROFILES.oci.prometheusRetention);
    expect(dev.server.resources).toEqual(sizeOf("small", "prometheus"));
    expect(dev.server.persistentVolume).toEqual({ enabled: true, size: "2Gi" });
    expect(oci.server.persistentVolume.size).toBe("10Gi");
    expect(prometheusValues({ ctx, storageSize: "5Gi" }) as any).toMatchObject({ server: { persistentVolume: { size: "5Gi" } } });
    expect(() => prometheusValues({ ctx, storageSize: "lots" })).toThrow(/storageSize/);
    expect(dev.server.service.servicePort).toBe(ctx.endpoints.prometheus.port);
  });

  it("scrapes every 15s (chart default 1m): the canary analysis' window derives from it", () => {
    const g = (prometheusValues({ ctx }) as any).server.global;
    expect(g).toEqual({ scrape_interval: SCRAPE_INTERVAL, scrape_timeout: "10s", evaluation_interval: SCRAPE_INTERVAL });
    expect(durationSeconds(g.scrape_interval)).toBeLessThanOrEqual(15);
    // Prometheus refuses a timeout above the interval.
    expect(durationSeconds(g.scrape_timeout)).toBeLessThanOrEqual(durationSeconds(g.scrape_interval));
    // No job of ours scrapes more slowly than the global interval.
    for (const [job, cfg] of Object.entries(scrapeConfigs(ctx) as Record<string, any>)) {
      expect(cfg.scrape_interval, job).toBeUndefined();
    }
  });

  it("PM-20 scrapes kube-state-metrics where our component serves it; istiod on 15014; annotated pods", () => {
    const jobs = scrapeConfigs(ctx) as Record<string, any>;
    for (const j of CHART_DEFAULT_JOBS) expect(jobs[j]).toEqual({ enabled: false });
    expect(jobs["kube-state-metrics"].static_configs[0].targets).toEqual(["kube-state-metrics.monitoring.svc:8080"]);
    expect(jobs.istiod.relabel_configs[0].regex).toBe("istiod;http-monitoring");
    const keep = jobs["annotated-pods"].relabel_configs[0];
    expect(keep).toMatchObject({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], action: "keep", regex: "true" });
    // Round-trips through YAML as the chart renders it (no Outputs, no undefined).
    expect(YAML.parse(YAML.stringify(jobs))).toEqual(jobs);
  });

  const server = { namespace: "monitoring", labels: { ...PROMETHEUS_SERVER_PODS } };

  it("PM-27 Prometheus admits the argo-rollouts controller on its pod port, and argo-rollouts may leave for it", () => {
    const all = platformPolicies(ctx);
    const controller = { namespace: "argo-rollouts", labels: { ...ROLLOUTS_CONTROLLER_PODS } };
    expect(allowed(all, controller, server, ctx.endpoints.prometheus.targetPort)).toBe(true);
    // Only the pod port: the Service's port 80 is translated before policies apply.
    expect(allowed(all, controller, server, 80)).toBe(false);
    // Each half alone is not enough: without the monitoring namespace's ingress the query is dropped.
    expect(allowed(all.filter((p) => p.metadata.namespace !== "monitoring" || p.metadata.name === "default-deny"), controller, server, 9090)).toBe(false);
  });

  it("Kiali reaches Prometheus, the ingress gateway does not; Prometheus reaches the API server, kube-state-metrics and scrape ports", () => {
    const all = platformPolicies(ctx);
    expect(allowed(all, { namespace: "istio-system", labels: { ...KIALI_PODS } }, server, 9090)).toBe(true);
    // #13: not published; users port-forward.
    expect(allowed(all, { namespace: "istio-system", labels: { istio: "ingressgateway" } }, server, 9090)).toBe(false);
    expect(allowed(all, { namespace: "sample-app", labels: { app: "x" } }, server, 9090)).toBe(false);
    expect(allowed(all, server, { ip: "172.18.0.3" }, 6443)).toBe(true);
    expect(allowed(all, server, { namespace: "monitoring", labels: { ...KSM_PODS } }, 8080)).toBe(true);
    for (const port of [15014, 15020, 8090, 9090]) expect(allowed(all.filter((p) => p.metadata.namespace === "monitoring"), server, { namespace: "user-app", labels: {} }, port), String(port)).toBe(true);
    expect(allowed(all, server, { namespace: "user-app", labels: {} }, 9100)).toBe(false);
    // Envoy's raw 15090: nothing is scraped there (annotations point at the merged 15020).
    expect(allowed(all, server, { namespace: "user-app", labels: {} }, 15090)).toBe(false);
    const wider = platformPolicies({ ...ctx, traffic: { extraScrapePorts: [9100] } });
    expect(allowed(wider.filter((p) => p.metadata.namespace === "monitoring"), server, { namespace: "user-app", labels: {} }, 9100)).toBe(true);
    expect(prometheusNamespace(ctx).metadata.labels!["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });
});

describe("Prometheus component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("installs the pinned chart as release prometheus (Service prometheus-server) into monitoring", async () => {
    const { Prometheus } = await import("../components/monitoring/prometheus");
    const prom = new Prometheus("prometheus", { ctx });
    await settle();
    expect(prom.url).toBe("http://prometheus-server.monitoring.svc.cluster.local:80");
    const chart = find(created, "kubernetes:helm.sh/v4:Chart");
    expect(chart.inputs).toMatchObject({ chart: "prometheus", version: charts.prometheus.version, namespace: "monitoring", name: "prometheus" });
    expect(find(created, "kubernetes:core/v1:Namespace").inputs.metadata.name).toBe("monitoring");
    // The monitoring namespace's share of the plan, kube-state-metrics' flows included.
    expect(findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((c) => c.inputs.metadata.name).sort()).toEqual(planPolicyNames(ctx, "monitoring"));
  });
});
