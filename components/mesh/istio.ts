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
      // Kubernetes Ingress support, for cert-manager's HTTP-01 solver only (components/tls): Ingresses
      // of IngressClass "istio", served by our gateway pods and reported with its Service's address.
      // These are the 1.30.3 defaults (pkg/config/mesh/mesh.go) except the selector, made explicit.
      ingressControllerMode: "STRICT",
      ingressClass: ISTIO_INGRESS_CLASS,
      ingressSelector: GATEWAY_SELECTOR.istio,
      ingressService: GATEWAY_RELEASE,
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

/** The HTTP-only Gateway: it redirects to HTTPS and carries the ACME HTTP-01 challenges (components/tls). */
export const PLATFORM_HTTP_GATEWAY_NAME = "platform-http";
/** Istio's Kubernetes Ingress support handles Ingresses of this class (cert-manager's HTTP-01 solver). */
export const ISTIO_INGRESS_CLASS = "istio";
/** TLS below 1.2 is refused on every HTTPS server. */
export const GATEWAY_MIN_TLS = "TLSV1_2";

/** The UIs the gateway publishes: short name (port and Secret names), host, backend. */
export function publishedHosts(ctx: ClusterContext): { readonly name: string; readonly host: string }[] {
  const h = ctx.endpoints.hostnames;
  return [
    { name: "gitea", host: h.git }, { name: "argocd", host: h.argocd }, { name: "kiali", host: h.kiali },
    { name: "app", host: h.app },
  ];
}

/** The Secret (in istio-system, next to the gateway pods) holding one host's certificate (components/tls). */
export function tlsSecretName(name: string): string {
  return `${name}-tls`;
}

/**
 * The IngressClass Istio's ingress controller answers to (controller istio.io/ingress-controller,
 * istio/istio 1.30.3 pilot/pkg/config/kube/ingress/virtualservices.go). cert-manager's HTTP-01
 * solver creates an Ingress of this class; istiod turns it into a Gateway on port 80 that selects
 * `istio: ingressgateway` (meshConfig ingressSelector/ingressService unset: the default selector,
 * gateways.go getIngressGatewaySelector) and a VirtualService for the challenge path.
 */
export function istioIngressClass(): K8sObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "IngressClass",
    metadata: { name: ISTIO_INGRESS_CLASS },
    spec: { controller: "istio.io/ingress-controller" },
  };
}

/**
 * Two Gateways on the one ingress deployment. `platform` serves HTTPS, one server per host with
 * that host's certificate (credentialName: a Secret in the gateway's namespace); the UIs bind to
 * it only. `platform-http` serves port 80 and its one VirtualService redirects every request to
 * HTTPS. Not `tls.httpsRedirect` on the server: that sets Envoy's require_tls on the whole virtual
 * host and would redirect cert-manager's `/.well-known/acme-challenge/<token>` too. The challenge
 * reaches the solver because istiod merges the redirect and the solver Ingress's route into one
 * virtual host per host name, and moves catch-all routes (prefix "/") after the others
 * (istio/istio 1.30.3 pilot/pkg/networking/core/gateway.go buildGatewayHTTPRouteConfig,
 * route/route.go SortVHostRoutes): the solver's exact path wins, everything else redirects.
 * Dev URLs carry the port in the Host header; gateway routes ignore it (IgnorePortInHostMatching).
 */
export function platformRoutes(ctx: ClusterContext): K8sObject[] {
  const ep = ctx.endpoints;
  const h = ep.hostnames;
  const hosts = publishedHosts(ctx);
  const https = gateway({
    name: PLATFORM_GATEWAY_NAME, namespace: ISTIO_NAMESPACE,
    servers: hosts.map(({ name, host }) => ({
      port: { name: `https-${name}`, number: 443, protocol: "HTTPS" as const }, hosts: [host],
      tls: { mode: "SIMPLE", credentialName: tlsSecretName(name), minProtocolVersion: GATEWAY_MIN_TLS },
    })),
  });
  const http = gateway({
    name: PLATFORM_HTTP_GATEWAY_NAME, namespace: ISTIO_NAMESPACE,
    servers: [{ port: { name: "http", number: 80, protocol: "HTTP" }, hosts: [`*.${ep.domain}`] }],
  });
  // Host names listed, not *.<domain>: the solver's route lands in the same virtual host only then.
  const redirect = virtualService({
    name: "https-redirect", namespace: ISTIO_NAMESPACE, hosts: hosts.map((x) => x.host),
    gateways: [`${ISTIO_NAMESPACE}/${PLATFORM_HTTP_GATEWAY_NAME}`],
    // 308 keeps the method and body (a git push over http, a form POST); 443 is left out of Location.
    http: [{ name: "https-redirect", redirect: { scheme: "https", port: ctx.profile.ingressHttpsPort, redirectCode: 308 } }],
  });
  const ui = (name: string, host: string, destination: string, port: number, timeout?: string) => virtualService({
    name, namespace: ISTIO_NAMESPACE, hosts: [host], gateways: [PLATFORM_GATEWAY],
    http: [{ name: "default", route: [{ host: destination, port }], ...(timeout ? { timeout } : {}) }],
  });
  return [
    https,
    http,
    redirect,
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
    registerObject(istioIngressClass(), overlays, { parent: this, dependsOn: [this.istiod] });
    this.registerOutputs({ namespace: this.namespace });
  }
}
