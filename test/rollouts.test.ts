import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { Created, find, findAll, mocks } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import { sizeOf } from "../components/lib/sizes";
import { charts } from "../components/lib/versions";
import { ROLLOUTS_CONTROLLER_PODS, rolloutsNamespace, rolloutsValues } from "../components/delivery/rollouts";
import { testContext } from "./helpers/context";
import { allowed, planPolicyNames, platformPolicies } from "./helpers/netpol";
import { settle as settleMocks } from "./helpers/mocks";

const ctx: ClusterContext = testContext("dev");
const settle = () => settleMocks(10);

describe("Argo Rollouts values and policies", () => {
  it("PM-16 CRDs and one controller with sized resources and metrics; dashboard off unless asked", () => {
    const v = rolloutsValues(ctx) as any;
    expect(v.installCRDs).toBe(true);
    expect(v.controller.replicas).toBe(1);
    expect(v.controller.resources).toEqual(sizeOf("small", "rolloutsController"));
    expect(v.controller.metrics.enabled).toBe(true);
    expect(v.dashboard.enabled).toBe(false);
    expect(v.dashboard.resources.requests.memory).toBeDefined();
    expect((rolloutsValues(ctx, { dashboard: true }) as any).dashboard.enabled).toBe(true);
  });

  const controller = { namespace: "argo-rollouts", labels: { ...ROLLOUTS_CONTROLLER_PODS } };
  const prometheus = { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server" } };

  it("PM-27 egress from argo-rollouts to the Prometheus pod port in the monitoring namespace", () => {
    const mine = platformPolicies(ctx).filter((p) => p.metadata.namespace === "argo-rollouts");
    // The pod port (9090), not the Service port (80): policies see traffic after the Service's DNAT.
    expect(allowed(mine, controller, prometheus, 9090)).toBe(true);
    expect(allowed(mine, controller, prometheus, 80)).toBe(false);
    expect(ctx.endpoints.prometheus.port).not.toBe(9090);
  });

  it("default deny, DNS, API server and Prometheus scrapes in; namespace restricted", () => {
    const all = platformPolicies(ctx);
    expect(planPolicyNames(ctx, "argo-rollouts")).toEqual(expect.arrayContaining(["allow-dns", "default-deny"]));
    expect(allowed(all, controller, { ip: "172.18.0.3" }, 6443)).toBe(true);
    expect(allowed(all, prometheus, controller, 8090)).toBe(true);
    expect(allowed(all, { namespace: "sample-app", labels: {} }, controller, 8090)).toBe(false);
    expect(rolloutsNamespace(ctx).metadata.labels!["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });
});

describe("ArgoRollouts component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("PM-16 installs the pinned chart into argo-rollouts and exposes it for dependsOn", async () => {
    const { ArgoRollouts } = await import("../components/delivery/rollouts");
    const ro = new ArgoRollouts("argo-rollouts", { ctx });
    await settle();
    expect(ro.chart).toBeInstanceOf(pulumi.Resource);
    const chart = find(created, "kubernetes:helm.sh/v4:Chart");
    expect(chart.inputs).toMatchObject({ chart: charts.argoRollouts.chart, version: charts.argoRollouts.version, namespace: "argo-rollouts", name: "argo-rollouts" });
    expect(chart.inputs.repositoryOpts.repo).toBe(charts.argoRollouts.repo);
    expect(chart.inputs.values.installCRDs).toBe(true);
    expect(find(created, "kubernetes:core/v1:Namespace").inputs.metadata.name).toBe("argo-rollouts");
    expect(findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((c) => c.inputs.metadata.name).sort()).toEqual(planPolicyNames(ctx, "argo-rollouts"));
    expect(find(created, "platform:delivery:ArgoRollouts").name).toBe("argo-rollouts");
  });
});
