// Argo Rollouts: CRDs + controller from the argo-helm chart, installed before anything creates a
// Rollout (PM-16: the Platform makes those dependOn `chart`), and the NetworkPolicy that lets
// analysis runs reach Prometheus (PM-27).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace } from "../lib/k8s";
import { policiesIn } from "../traffic";
import { registerObject } from "../lib/objects";
import { sizeOf } from "../lib/sizes";
import { pinnedChart } from "../lib/charts";
import { charts } from "../lib/versions";

/** Helm release name: the chart's fullname (and its Deployment) is then "argo-rollouts". */
export const ROLLOUTS_RELEASE = "argo-rollouts";

/** Controller pod labels (argo-helm charts/argo-rollouts/templates/controller/deployment.yaml @ 2.41.0). */
export const ROLLOUTS_CONTROLLER_PODS: Readonly<Record<string, string>> = {
  "app.kubernetes.io/name": "argo-rollouts",
  "app.kubernetes.io/component": "rollouts-controller",
};

/** values.yaml controller.containerPorts.metrics @ 2.41.0. */
export const ROLLOUTS_METRICS_PORT = 8090;

/** In-cluster port of the API server behind the `kubernetes` Service (K3s). */
export const API_SERVER_PORT = 6443;

export interface ArgoRolloutsArgs {
  readonly ctx: ClusterContext;
  /**
   * Deploy the read-only-capable Rollouts dashboard (port 3100, reach it with
   * `kubectl -n argo-rollouts port-forward svc/argo-rollouts-dashboard 3100`); the
   * `kubectl argo rollouts` plugin covers the same ground without another pod. @default false
   */
  readonly dashboard?: boolean;
}

/** Chart values; keys checked against argo-helm charts/argo-rollouts/values.yaml @ argo-rollouts-2.41.0. */
export function rolloutsValues(ctx: ClusterContext, args: { dashboard?: boolean } = {}): Record<string, unknown> {
  const resources = sizeOf(ctx.profile.size, "rolloutsController");
  return {
    installCRDs: true,
    controller: {
      // One replica: leader election makes a second one idle, and the budget counts one (plan.ts).
      replicas: 1,
      resources,
      metrics: { enabled: true },
      // Picked up by Prometheus's annotation-driven pods job.
      podAnnotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(ROLLOUTS_METRICS_PORT), "prometheus.io/path": "/metrics" },
    },
    dashboard: {
      enabled: args.dashboard ?? false,
      readonly: true,
      // sizes.ts has no dashboard key yet; it is off by default and small, so it borrows the controller's.
      resources,
    },
  };
}

export function rolloutsNamespace(ctx: ClusterContext): K8sObject {
  // The chart's pods run non-root with seccomp RuntimeDefault and drop ALL: restricted fits.
  return namespace({ name: ctx.endpoints.rollouts.namespace, podSecurity: "restricted" });
}

export class ArgoRollouts extends pulumi.ComponentResource {
  public readonly namespace: string;
  /** CRDs + controller: anything that creates Rollouts or AnalysisTemplates must dependOn it (PM-16). */
  public readonly chart: k8s.helm.v4.Chart;

  constructor(name: string, args: ArgoRolloutsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:delivery:ArgoRollouts", name, {}, opts);
    const { ctx } = args;
    const overlays = ctx.profile.overlays;
    this.namespace = ctx.endpoints.rollouts.namespace;
    const ns = registerObject(rolloutsNamespace(ctx), overlays, { parent: this });
    const policies = policiesIn(ctx, this.namespace).map((p) => registerObject(p, overlays, { parent: this, dependsOn: [ns] }));
    this.chart = pinnedChart(name, charts.argoRollouts, {
      release: ROLLOUTS_RELEASE,
      namespace: this.namespace,
      values: rolloutsValues(ctx, { dashboard: args.dashboard }),
    }, { parent: this, dependsOn: [ns, ...policies] });
    this.registerOutputs({ namespace: this.namespace });
  }
}
