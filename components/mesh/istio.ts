// Istio: base (CRDs) -> istiod -> ingress gateway, in that order (the gateway's proxy is injected by
// istiod's webhook), the gateway labelled for GATEWAY_SELECTOR (PM-38), and the platform Gateway
// plus the VirtualServices that expose the UIs. Chart keys: istio/istio manifests/charts/{base,
// istio-control/istio-discovery,gateway}/values.yaml @ 1.30.3 (set at top level, not under
// `_internal_defaults_do_not_set`).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace } from "../lib/k8s";
import { policiesIn } from "../traffic";
import { registerObject } from "../lib/objects";
import { sizeOf } from "../lib/sizes";
import { pinnedChart } from "../lib/charts";
import { charts } from "../lib/versions";
import { gateway, GATEWAY_SELECTOR, SIDECAR_NAMESPACE_POD_SECURITY, virtualService } from "./routing";

export { SIDECAR_NAMESPACE_POD_SECURITY };

export const ISTIO_NAMESPACE = "istio-system";
/** Release name of the gateway chart: its Deployment and Service are called this. */
export const GATEWAY_RELEASE = "istio-ingressgateway";
export const PLATFORM_GATEWAY_NAME = "platform";
/** What VirtualServices put in `gateways` to be served by the platform Gateway. */
export const PLATFORM_GATEWAY = `${ISTIO_NAMESPACE}/${PLATFORM_GATEWAY_NAME}`;
/** istiod pod labels (istio-discovery templates/deployment.yaml @ 1.30.3). */
export const ISTIOD_PODS: Readonly<Record<string, string>> = { app: "istiod" };
/** istiod ports: xDS plaintext, xDS mTLS, monitoring, injection/validation webhook. */
export const ISTIOD_PORTS = { xds: 15010, xdsTls: 15012, monitoring: 15014, webhook: 15017 } as const;

/**
 * istio-system is "baseline", not "restricted": the gateway pod sets the (safe) sysctl
 * net.ipv4.ip_unprivileged_port_start and its proxy container is written by istiod's injection
 * template without a seccompProfile, which restricted demands. Nothing here needs "privileged":
 * no sidecars are injected into istio-system, so no istio-init with NET_ADMIN runs here. Application
 * namespaces with sidecars need SIDECAR_NAMESPACE_POD_SECURITY ("privileged") for istio-init.
 */
export function istioNamespace(): K8sObject {
  return namespace({ name: ISTIO_NAMESPACE, podSecurity: "baseline" });
}

/**
 * Both validating webhooks (base: istiod-default-validator, istiod: istio-validator-istio-system)
 * render `failurePolicy: Ignore` unless this is set or `.Release.IsUpgrade`, which a helm v4 Chart
 * never is; istiod then patches Fail and owns the field, so every later `up` fights it
 * (pulumi-kubernetes#2210). Rendering Fail from the start ends the flip (istio/istio 1.30.3
 * manifests/charts/{base/templates/defaultrevision-validatingwebhookconfiguration.yaml,
 * istio-control/istio-discovery/templates/validatingwebhookconfiguration.yaml}; the key is
 * top-level `base.validationFailurePolicy` in both charts since istio/istio#59488, documented in
 * istio-discovery/values.yaml). The cost: Istio resources are refused until istiod answers, and
 * everything that creates them waits for the istiod chart already.
 */
export const ISTIO_VALIDATION = { base: { validationFailurePolicy: "Fail" } } as const;

export function istioBaseValues(): Record<string, unknown> {
  return { defaultRevision: "default", base: { ...ISTIO_VALIDATION.base } };
}

export function istiodValues(ctx: ClusterContext): Record<string, unknown> {
  return {
    base: { ...ISTIO_VALIDATION.base },
    // One replica on these small clusters; the budget counts one (plan.ts).
    autoscaleEnabled: false,
    replicaCount: 1,
    resources: sizeOf(ctx.profile.size, "istiod"),
    seccompProfile: { type: "RuntimeDefault" },
    meshConfig: {
      // Sidecars serve app + Envoy metrics on 15020 (plaintext even under STRICT mTLS).
      enablePrometheusMerge: true,
      defaultConfig: { holdApplicationUntilProxyStarts: true },
    },
    global: {
      istioNamespace: ISTIO_NAMESPACE,
      proxy: { resources: sizeOf(ctx.profile.size, "istioProxy") },
      // A PDB with one replica blocks node drains.
      defaultPodDisruptionBudget: { enabled: false },
    },
  };
}

export function gatewayValues(ctx: ClusterContext): Record<string, unknown> {
  const ports = ctx.endpoints.ports;
  return {
    // Pods labelled istio: ingressgateway whatever the release is called (PM-38).
    labels: { ...GATEWAY_SELECTOR, app: GATEWAY_RELEASE, "istio.io/dataplane-mode": "none" },
    autoscaling: { enabled: false },
    replicaCount: 1,
    resources: sizeOf(ctx.profile.size, "istioGateway"),
    service: {
      // K3s servicelb binds 80/443 on the node for a LoadBalancer Service; k3d maps host ports to them.
      type: "LoadBalancer",
      // The list replaces the chart's; every port named, NodePorts fixed by the port plan (PM-08).
      ports: [
        { name: "status-port", port: 15021, protocol: "TCP", targetPort: 15021 },
        { name: "http2", port: 80, protocol: "TCP", targetPort: 80, nodePort: ports.gatewayHttp },
        { name: "https", port: 443, protocol: "TCP", targetPort: 443, nodePort: ports.gatewayHttps },
      ],
    },
  };
}

/**
 * The platform Gateway (HTTP, every host under the domain) and the UI VirtualServices. Dev URLs
 * carry :8080 in the Host header; gateway routes ignore the port when matching hosts
 * (istio/istio 1.30.3 pilot/pkg/networking/core/gateway.go: IgnorePortInHostMatching).
 */
export function platformRoutes(ctx: ClusterContext): K8sObject[] {
  const ep = ctx.endpoints;
  const h = ep.hostnames;
  const gw = gateway({
    name: PLATFORM_GATEWAY_NAME, namespace: ISTIO_NAMESPACE,
    servers: [{ port: { name: "http", number: 80, protocol: "HTTP" }, hosts: [`*.${ep.domain}`] }],
  });
  const ui = (name: string, host: string, destination: string, port: number, timeout?: string) => virtualService({
    name, namespace: ISTIO_NAMESPACE, hosts: [host], gateways: [PLATFORM_GATEWAY],
    http: [{ name: "default", route: [{ host: destination, port }], ...(timeout ? { timeout } : {}) }],
  });
  return [
    gw,
    // Git over HTTP can stream large packs: no route timeout.
    ui("gitea", h.git, ep.gitea.fqdn, ep.gitea.port),
    ui("argocd", h.argocd, ep.argocd.fqdn, ep.argocd.port),
    ui("kiali", h.kiali, ep.kiali.fqdn, ep.kiali.port, "60s"),
    // Prometheus is not published (no authentication of its own): kubectl port-forward.
  ];
}

export interface IstioArgs {
  readonly ctx: ClusterContext;
}

export class Istio extends pulumi.ComponentResource {
  public readonly namespace: string;
  /** CRDs: anything creating Gateways, VirtualServices, DestinationRules or PeerAuthentications depends on it. */
  public readonly base: k8s.helm.v4.Chart;
  /** The injector: namespaces with sidecars must get their pods after it. */
  public readonly istiod: k8s.helm.v4.Chart;
  /** The ingress gateway the platform Gateway selects (PM-38). */
  public readonly gateway: k8s.helm.v4.Chart;

  constructor(name: string, args: IstioArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:mesh:Istio", name, {}, opts);
    const { ctx } = args;
    const overlays = ctx.profile.overlays;
    this.namespace = ISTIO_NAMESPACE;
    const ns = registerObject(istioNamespace(), overlays, { parent: this });
    // istio-system's flows (istiod, the gateway and Kiali) from the traffic plan: this component owns the namespace.
    const policies = policiesIn(ctx, ISTIO_NAMESPACE).map((p) => registerObject(p, overlays, { parent: this, dependsOn: [ns] }));
    const chart = (id: string, pin: { repo: string; chart: string; version: string }, release: string, values: Record<string, unknown>, dependsOn: pulumi.Resource[]) =>
      pinnedChart(`${name}-${id}`, pin, { release, namespace: ISTIO_NAMESPACE, values }, { parent: this, dependsOn });
    this.base = chart("base", charts.istioBase, "istio-base", istioBaseValues(), [ns]);
    this.istiod = chart("istiod", charts.istiod, "istiod", istiodValues(ctx), [ns, this.base, ...policies]);
    // image: auto in the gateway Deployment is filled in by istiod's webhook: istiod first.
    this.gateway = chart("gateway", charts.istioGateway, GATEWAY_RELEASE, gatewayValues(ctx), [this.istiod]);
    for (const obj of platformRoutes(ctx)) registerObject(obj, overlays, { parent: this, dependsOn: [this.base, this.gateway] });
    this.registerOutputs({ namespace: this.namespace });
  }
}
