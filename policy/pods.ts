// Reads pod specs, containers and labels out of Kubernetes resource inputs as the policy engine
// sees them (`props` of a kubernetes:* resource), for every kind that carries a pod template.

/** Pulumi type token of a Kubernetes object: kubernetes:<group>/<version>:<Kind> (core: core/v1). */
export function typeToken(apiVersion: string, kind: string): string {
  return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** Kind of a kubernetes:* type token, whatever the group/version: kubernetes:apps/v1:Deployment -> Deployment. */
export function kindOf(type: string): string | undefined {
  const m = /^kubernetes:([^:]+):([A-Za-z0-9]+)$/.exec(type);
  return m ? m[2] : undefined;
}

/** Group of a kubernetes:* type token (core for the core API). */
export function groupOf(type: string): string | undefined {
  const m = /^kubernetes:([^:]+):[A-Za-z0-9]+$/.exec(type);
  if (!m) return undefined;
  const parts = m[1].split("/");
  return parts.length > 1 ? parts.slice(0, -1).join("/") : "core";
}

export interface PodTemplate {
  readonly kind: string;
  /** Namespace of the workload ("default" when unset, as the provider would apply it). */
  readonly namespace: string;
  /** Labels of the pods it creates (what a Service selects). */
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly spec: Record<string, any>;
}

const TEMPLATED = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"]);

/** The pod template a workload resource creates, or undefined when the resource has none. */
export function podTemplate(type: string, props: Record<string, any> | undefined): PodTemplate | undefined {
  const kind = kindOf(type);
  const group = groupOf(type);
  if (!kind || !props) return undefined;
  const namespace = props.metadata?.namespace ?? "default";
  let template: Record<string, any> | undefined;
  if (kind === "Pod" && group === "core") template = { metadata: props.metadata, spec: props.spec };
  else if (kind === "CronJob" && group === "batch") template = props.spec?.jobTemplate?.spec?.template;
  else if (kind === "Rollout" && group === "argoproj.io") template = props.spec?.template;
  else if (TEMPLATED.has(kind) && group !== "argoproj.io") template = props.spec?.template;
  if (!template?.spec) return undefined;
  return { kind, namespace, labels: template.metadata?.labels ?? {}, annotations: template.metadata?.annotations ?? {}, spec: template.spec };
}

export interface ContainerRef {
  readonly container: Record<string, any>;
  /** "containers" or "initContainers". */
  readonly list: "containers" | "initContainers";
}

export function containersOf(spec: Record<string, any>): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const list of ["initContainers", "containers"] as const) {
    for (const c of (spec[list] ?? []) as Record<string, any>[]) if (c && typeof c === "object") out.push({ container: c, list });
  }
  return out;
}

/** True when every key/value of the selector is among the labels (an empty selector selects nothing here). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * Istio's ingress gateway pods (the `gateway` chart) carry the label `sidecar.istio.io/inject: "true"`,
 * which istiod's injection webhook selects (istio-discovery templates/mutatingwebhook.yaml, objectSelector),
 * and the annotation `inject.istio.io/templates: gateway`, which picks the gateway template
 * (istio-discovery files/gateway-injection-template.yaml @ 1.30.3). A namespace labelled
 * istio-injection=disabled would still skip the webhook; a resource policy cannot see namespaces.
 */
export function istioGatewayInjected(pod: PodTemplate): boolean {
  if (pod.labels["sidecar.istio.io/inject"] !== "true" || pod.annotations["sidecar.istio.io/inject"] === "false") return false;
  return String(pod.annotations["inject.istio.io/templates"] ?? "").split(",").map((t) => t.trim()).includes("gateway");
}

/** The container the gateway template writes: the webhook merges the pod's own fields over it. */
export const ISTIO_PROXY_CONTAINER = "istio-proxy";

/**
 * True for the one container of a gateway pod that the injector fills in: its image "auto" becomes the
 * template's proxy image (istio pkg/kube/inject/webhook.go reapplyOverwrittenContainers, AutoImage) and
 * it gets the template's readinessProbe (httpGet /healthz/ready on 15021). Nothing else is filled in.
 */
export function injectorFills(pod: PodTemplate, ref: ContainerRef): boolean {
  return ref.list === "containers" && ref.container.name === ISTIO_PROXY_CONTAINER && istioGatewayInjected(pod);
}
