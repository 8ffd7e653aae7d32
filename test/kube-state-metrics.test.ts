import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { Created, find, findAll, mocks } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import { sizeOf } from "../components/lib/sizes";
import { images } from "../components/lib/versions";
import { ksmNamespaces, KSM_PODS, KSM_PORTS, KSM_RESOURCES, KSM_RULES, kubeStateMetricsObjects, platformNamespaces } from "../components/monitoring/kube-state-metrics";
import { scrapeConfigs, PROMETHEUS_SERVER_PODS } from "../components/monitoring/prometheus";
import { testContext } from "./helpers/context";
import { allowed, platformPolicies } from "./helpers/netpol";
import { settle as settleMocks } from "./helpers/mocks";

const ctx: ClusterContext = testContext("dev");
const settle = () => settleMocks(10);
const kinds = (objs: any[]) => Object.fromEntries(objs.map((o) => [`${o.kind}/${o.metadata.name}`, o]));

describe("kube-state-metrics objects", () => {
  const objs = kinds(kubeStateMetricsObjects({ ctx, extraNamespaces: ["sample-app"] }));
  const deploy = objs["Deployment/kube-state-metrics"];
  const c = deploy.spec.template.spec.containers[0];

  it("PM-20 the scrape target exists: ServiceAccount, ClusterRole, binding, Deployment, Service", () => {
    for (const k of ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"]) expect(objs[`${k}/kube-state-metrics`], k).toBeDefined();
    const svc = objs["Service/kube-state-metrics"];
    expect(svc.metadata.namespace).toBe("monitoring");
    expect(svc.spec.ports).toEqual([{ name: "http-metrics", port: 8080, targetPort: "http-metrics", protocol: "TCP" }]);
    // The Service selects the Deployment's pods, and Prometheus is configured with exactly this Service.
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(deploy.spec.template.metadata.labels[k]).toBe(v);
    const target = (scrapeConfigs(ctx) as any)["kube-state-metrics"].static_configs[0].targets[0];
    expect(target).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc:${svc.spec.ports[0].port}`);
    const binding = objs["ClusterRoleBinding/kube-state-metrics"];
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "kube-state-metrics", namespace: "monitoring" }]);
    expect(deploy.spec.template.spec.serviceAccountName).toBe("kube-state-metrics");
  });

  it("PM-20 restricted with --namespaces to the namespaces that matter", () => {
    const arg = c.args.find((a: string) => a.startsWith("--namespaces="));
    const listed = arg.slice("--namespaces=".length).split(",");
    expect(listed).toEqual([...new Set([...platformNamespaces(ctx), "sample-app"])].sort());
    expect(ksmNamespaces({ ctx, namespaces: ["b", "a", "a"] })).toEqual(["a", "b"]);
    expect(() => ksmNamespaces({ ctx, namespaces: [] })).toThrow(/PM-20/);
    expect(() => ksmNamespaces({ ctx, namespaces: ["Not_A_Namespace"] })).toThrow(/not a namespace name/);
  });

  it("PM-20 the traffic plan admits Prometheus's scrapes on 8080 and lets kube-state-metrics reach the API", () => {
    const all = platformPolicies(ctx);
    const ksm = { namespace: "monitoring", labels: { ...KSM_PODS } };
    expect(allowed(all, { namespace: "monitoring", labels: { ...PROMETHEUS_SERVER_PODS } }, ksm, KSM_PORTS.metrics)).toBe(true);
    expect(allowed(all, { namespace: "sample-app", labels: {} }, ksm, KSM_PORTS.metrics)).toBe(false);
    expect(allowed(all, ksm, { ip: "172.18.0.3" }, 6443)).toBe(true);
  });

  it("upstream ports and probes, hardened, pinned image, resources from sizes.ts", () => {
    expect(c.image).toBe(images.kubeStateMetrics);
    expect(c.ports.map((p: any) => [p.name, p.containerPort])).toEqual([["http-metrics", 8080], ["telemetry", 8081]]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/livez", port: "http-metrics" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "telemetry" });
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(c.resources).toEqual(sizeOf("small", "kubeStateMetrics"));
  });

  it("the ClusterRole lists and watches what it reads and nothing more", () => {
    const role = objs["ClusterRole/kube-state-metrics"];
    expect(role.rules).toEqual(KSM_RULES);
    for (const r of role.rules) {
      const write = r.verbs.filter((v: string) => !["list", "watch"].includes(v));
      if (write.length) expect(r.resources.every((x: string) => ["tokenreviews", "subjectaccessreviews"].includes(x))).toBe(true);
    }
    expect(role.rules.find((r: any) => r.apiGroups[0] === "apps").resources).toContain("deployments");
  });

  it("#14 no access to Secrets: no RBAC verb on them, no secrets collector; every collector it runs can list and watch", () => {
    const role = objs["ClusterRole/kube-state-metrics"];
    for (const r of role.rules) {
      if (!r.apiGroups.includes("") && !r.apiGroups.includes("*")) continue;
      expect(r.resources, JSON.stringify(r)).not.toContain("secrets");
      expect(r.resources, JSON.stringify(r)).not.toContain("*");
    }
    const resources = c.args.find((a: string) => a.startsWith("--resources="))?.replace("--resources=", "").split(",");
    expect(resources, "without --resources it runs v2.19.1's defaults, secrets included").toBeDefined();
    expect(resources).not.toContain("secrets");
    expect(resources).toEqual([...KSM_RESOURCES]);
    // kubernetes/kube-state-metrics v2.19.1 pkg/options/resource.go DefaultResources: ours is it minus secrets.
    const upstream = ["certificatesigningrequests", "configmaps", "cronjobs", "daemonsets", "deployments", "endpointslices", "horizontalpodautoscalers",
      "ingresses", "jobs", "leases", "limitranges", "mutatingwebhookconfigurations", "namespaces", "networkpolicies", "nodes", "persistentvolumes",
      "persistentvolumeclaims", "poddisruptionbudgets", "pods", "replicasets", "replicationcontrollers", "resourcequotas", "secrets", "services",
      "statefulsets", "storageclasses", "validatingwebhookconfigurations", "volumeattachments"];
    expect([...resources!].sort()).toEqual(upstream.filter((r) => r !== "secrets").sort());
    for (const res of resources!) {
      expect(role.rules.some((r: any) => r.resources.includes(res) && r.verbs.includes("list") && r.verbs.includes("watch")), res).toBe(true);
    }
  });
});

describe("KubeStateMetrics component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("PM-20 registers the Deployment, Service, ServiceAccount, ClusterRole and binding as typed resources", async () => {
    const { KubeStateMetrics } = await import("../components/monitoring/kube-state-metrics");
    const ksm = new KubeStateMetrics("kube-state-metrics", { ctx });
    await settle();
    expect(ksm.target).toBe("kube-state-metrics.monitoring.svc:8080");
    for (const t of ["apps/v1:Deployment", "core/v1:Service", "core/v1:ServiceAccount", "rbac.authorization.k8s.io/v1:ClusterRole", "rbac.authorization.k8s.io/v1:ClusterRoleBinding"]) {
      expect(find(created, `kubernetes:${t}`).inputs.metadata.name).toBe("kube-state-metrics");
    }
    // Its flows are the monitoring namespace's, registered once by the Prometheus component (traffic.ts).
    expect(findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy")).toHaveLength(0);
  });
});
