// cert-manager from its pinned chart: CRDs with the chart, a namespace outside the mesh, and the
// startupapicheck Job as an ordinary resource, so issuers are created only once the webhook answers.
// Chart keys: cert-manager/cert-manager deploy/charts/cert-manager/values.yaml @ release-1.21 (= v1.21.1).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace } from "../lib/k8s";
import { policiesIn } from "../traffic";
import { registerObject } from "../lib/objects";
import { Resources } from "../lib/budget";
import { sizeOf } from "../lib/sizes";
import { pinnedChart } from "../lib/charts";
import { charts } from "../lib/versions";

export const CERT_MANAGER_NAMESPACE = "cert-manager";
/** Release name: the chart's objects are cert-manager, cert-manager-webhook, cert-manager-cainjector. */
export const CERT_MANAGER_RELEASE = "cert-manager";

/** Pod labels per component (templates/{deployment,webhook-deployment,cainjector-deployment,startupapicheck-job}.yaml). */
export const CERT_MANAGER_PODS = {
  controller: { "app.kubernetes.io/instance": CERT_MANAGER_RELEASE, "app.kubernetes.io/component": "controller" },
  webhook: { "app.kubernetes.io/instance": CERT_MANAGER_RELEASE, "app.kubernetes.io/component": "webhook" },
  cainjector: { "app.kubernetes.io/instance": CERT_MANAGER_RELEASE, "app.kubernetes.io/component": "cainjector" },
  startupapicheck: { "app.kubernetes.io/instance": CERT_MANAGER_RELEASE, "app.kubernetes.io/component": "startupapicheck" },
} as const;

/** The webhook's HTTPS port (values.yaml webhook.securePort), which the API server calls. */
export const CERT_MANAGER_WEBHOOK_PORT = 10250;

/** HTTP-01 solver pods: label cert-manager puts on them (pkg/apis/acme/v1/types.go) and their port (pkg/issuer/acme/http/http.go). */
export const ACME_SOLVER_PODS: Readonly<Record<string, string>> = { "acme.cert-manager.io/http01-solver": "true" };
export const ACME_SOLVER_PORT = 8089;

/**
 * Not in the mesh: the API server calls the webhook directly from the node, with the webhook's own
 * serving certificate (cainjector puts its CA into the webhook configurations). A sidecar would
 * demand Istio mTLS on 10250, which the API server cannot speak. No injection label, and the
 * explicit opt-out in case a revision or default injection is turned on later. The chart's pods
 * are non-root, seccomp RuntimeDefault, drop ALL, read-only root: restricted fits.
 */
export function certManagerNamespace(): K8sObject {
  return namespace({ name: CERT_MANAGER_NAMESPACE, podSecurity: "restricted", labels: { "istio-injection": "disabled" } });
}

const solverArgs = (res: Resources): string[] => [
  `--acme-http01-solver-resource-request-cpu=${res.requests.cpu}`,
  `--acme-http01-solver-resource-request-memory=${res.requests.memory}`,
  `--acme-http01-solver-resource-limits-memory=${res.limits.memory}`,
];

/** Helm merges value maps, so the chart's hook annotations go only when set to null. */
export const NO_HOOK = { "helm.sh/hook": null, "helm.sh/hook-weight": null, "helm.sh/hook-delete-policy": null } as const;

/**
 * startupapicheck (`cmctl check api --wait`) is a post-install hook in the chart, and a helm v4
 * Chart drops hooks (pulumi-kubernetes provider/pkg/provider/helm/v4/chart.go). Emptied annotations
 * make it an ordinary Job the engine waits for: it completes once the webhook answers with the
 * injected CA, and the ClusterIssuers depend on the chart, so they are never refused by a webhook
 * that is not ready yet. It has no TTL (it stays Complete and renders the same: no churn); a failed
 * run is replaced by the next `up` (pulumi.com/replaceUnready).
 */
export function certManagerValues(ctx: ClusterContext): Record<string, unknown> {
  const size = ctx.profile.size;
  return {
    crds: { enabled: true, keep: true },
    replicaCount: 1,
    resources: sizeOf(size, "certManagerController"),
    extraArgs: solverArgs(sizeOf(size, "acmeSolver")),
    // No scrape: 9402 is not among the ports the traffic plan lets Prometheus reach.
    prometheus: { enabled: false },
    webhook: { replicaCount: 1, resources: sizeOf(size, "certManagerWebhook"), securePort: CERT_MANAGER_WEBHOOK_PORT },
    cainjector: { enabled: true, replicaCount: 1, resources: sizeOf(size, "certManagerCainjector") },
    startupapicheck: {
      enabled: true,
      timeout: "5m",
      resources: sizeOf(size, "certManagerStartupCheck"),
      jobAnnotations: { ...NO_HOOK, "pulumi.com/replaceUnready": "true" },
      rbac: { annotations: NO_HOOK },
      serviceAccount: { annotations: NO_HOOK },
    },
  };
}

export interface CertManagerArgs {
  readonly ctx: ClusterContext;
}

export class CertManager extends pulumi.ComponentResource {
  public readonly namespace: string;
  /** CRDs, controller, webhook, cainjector and the API check: issuers and Certificates dependOn it. */
  public readonly chart: k8s.helm.v4.Chart;

  constructor(name: string, args: CertManagerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:tls:CertManager", name, {}, opts);
    const { ctx } = args;
    const overlays = ctx.profile.overlays;
    this.namespace = CERT_MANAGER_NAMESPACE;
    const ns = registerObject(certManagerNamespace(), overlays, { parent: this });
    const policies = policiesIn(ctx, this.namespace).map((p) => registerObject(p, overlays, { parent: this, dependsOn: [ns] }));
    this.chart = pinnedChart(name, charts.certManager, {
      release: CERT_MANAGER_RELEASE, namespace: this.namespace, values: certManagerValues(ctx),
    }, { parent: this, dependsOn: [ns, ...policies] });
    this.registerOutputs({ namespace: this.namespace });
  }
}
