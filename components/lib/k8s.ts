// Typed builders for the Kubernetes objects we write ourselves. Each one encodes a lesson:
// named ports and targetPort by name (PM-06), probes that exercise the service (PM-11),
// Always for mutable tags (PM-04), no loopback image names (PM-15), hardened containers.
import { Resources } from "./budget";
import { isLoopbackReference } from "./endpoints";

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A plain Kubernetes object; values may be Pulumi Inputs (secrets). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  [key: string]: any;
}

export interface Port {
  /** IANA-style name, used by Services as targetPort (PM-06). */
  readonly name: string;
  readonly containerPort: number;
  readonly protocol?: "TCP" | "UDP";
}

export type Probe =
  | { readonly http: { readonly path: string; readonly port: string } }
  | { readonly tcp: { readonly port: string } };

export interface ProbeTiming {
  readonly initialDelaySeconds?: number;
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
}

export function httpProbe(path: string, port: string, timing: ProbeTiming = {}): Record<string, unknown> {
  if (!path.startsWith("/")) throw new Error(`httpProbe: path must start with /, got ${path}`);
  return { httpGet: { path, port }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3, ...timing };
}

export function tcpProbe(port: string, timing: ProbeTiming = {}): Record<string, unknown> {
  return { tcpSocket: { port }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3, ...timing };
}

/** An image is immutable when pinned by digest, a full semver (1.2.3), or a git sha. */
export function isImmutableImage(image: string): boolean {
  if (image.includes("@sha256:")) return true;
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  if (colon < 0) return false;
  const tag = image.slice(colon + 1);
  return /^v?\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?$/.test(tag) || /^[0-9a-f]{7,40}$/.test(tag);
}

/** PM-04: a mutable tag must be pulled every time, or nodes keep a stale copy. */
export function pullPolicyFor(image: string): "IfNotPresent" | "Always" {
  return isImmutableImage(image) ? "IfNotPresent" : "Always";
}

export function checkImage(image: string): void {
  if (isLoopbackReference(image)) {
    throw new Error(`image "${image}" names localhost/127.0.0.1/::1, which a node resolves to itself (PM-15); use the registry host from the endpoints object`);
  }
  if (/:latest$/.test(image) || !/[:@]/.test(image.slice(image.lastIndexOf("/") + 1))) {
    throw new Error(`image "${image}" has no pinned tag; pin a version (never latest)`);
  }
}

export interface ContainerArgs {
  readonly name: string;
  readonly image: string;
  readonly ports?: readonly Port[];
  readonly resources: Resources;
  /** Readiness probe (required): an HTTP path or a TCP port by name. */
  readonly readiness: Probe;
  /** Liveness probe: defaults to the readiness target with a longer delay. */
  readonly liveness?: Probe;
  readonly livenessTiming?: ProbeTiming;
  readonly readinessTiming?: ProbeTiming;
  readonly args?: readonly string[];
  /** Only where the image has no suitable entrypoint; sample workloads keep the image's own (PM-33). */
  readonly command?: readonly string[];
  readonly env?: readonly Record<string, unknown>[];
  readonly envFrom?: readonly Record<string, unknown>[];
  readonly volumeMounts?: readonly Record<string, unknown>[];
  /** @default true: writable paths come from volumes. */
  readonly readOnlyRootFilesystem?: boolean;
  /** @default undefined: the image's user, which runAsNonRoot checks. */
  readonly runAsUser?: number;
}

function probe(p: Probe, timing: ProbeTiming): Record<string, unknown> {
  return "http" in p ? httpProbe(p.http.path, p.http.port, timing) : tcpProbe(p.tcp.port, timing);
}

function checkProbePort(p: Probe, ports: readonly Port[], container: string): void {
  const port = "http" in p ? p.http.port : p.tcp.port;
  if (!ports.some((x) => x.name === port)) {
    throw new Error(`container ${container}: probe port "${port}" is not one of its named ports (${ports.map((x) => x.name).join(", ") || "none"})`);
  }
}

/** A hardened container: non-root, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault. */
export function container(args: ContainerArgs): Record<string, unknown> {
  checkImage(args.image);
  const ports = args.ports ?? [];
  const names = new Set<string>();
  for (const p of ports) {
    if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(p.name)) throw new Error(`container ${args.name}: port name "${p.name}" must be an IANA service name (<= 15 chars, lowercase)`);
    if (names.has(p.name)) throw new Error(`container ${args.name}: duplicate port name ${p.name}`);
    names.add(p.name);
  }
  checkProbePort(args.readiness, ports, args.name);
  const liveness = args.liveness ?? args.readiness;
  checkProbePort(liveness, ports, args.name);
  const out: Record<string, unknown> = {
    name: args.name,
    image: args.image,
    imagePullPolicy: pullPolicyFor(args.image),
    ports: ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol ?? "TCP" })),
    resources: { requests: { ...args.resources.requests }, limits: { ...args.resources.limits } },
    readinessProbe: probe(args.readiness, { initialDelaySeconds: 5, ...args.readinessTiming }),
    livenessProbe: probe(liveness, { initialDelaySeconds: 15, periodSeconds: 20, ...args.livenessTiming }),
    securityContext: {
      runAsNonRoot: true,
      ...(args.runAsUser !== undefined ? { runAsUser: args.runAsUser } : {}),
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: args.readOnlyRootFilesystem ?? true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
  if (args.args) out.args = [...args.args];
  if (args.command) out.command = [...args.command];
  if (args.env) out.env = [...args.env];
  if (args.envFrom) out.envFrom = [...args.envFrom];
  if (args.volumeMounts) out.volumeMounts = [...args.volumeMounts];
  return out;
}

/** Pod-level security: seccomp RuntimeDefault and non-root; fsGroup where a volume needs ownership. */
export function podSecurityContext(fsGroup?: number): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
    ...(fsGroup !== undefined ? { fsGroup, fsGroupChangePolicy: "OnRootMismatch" } : {}),
  };
}

/** The named ports of a workload's containers (what a Service may target). */
export function workloadPorts(podSpec: { containers: { ports?: { name?: string; containerPort: number }[] }[] }): Port[] {
  return podSpec.containers.flatMap((c) => (c.ports ?? []).filter((p): p is Port => typeof p.name === "string"));
}

export interface ServiceArgs {
  readonly name: string;
  readonly namespace: string;
  readonly selector: Record<string, string>;
  /** The workload's own ports (workloadPorts()); the Service exposes them by name (PM-06). */
  readonly ports: readonly Port[];
  /** Expose only these port names. @default all */
  readonly only?: readonly string[];
  /** Service port per port name. @default the container port */
  readonly servicePorts?: Record<string, number>;
  readonly type?: "ClusterIP" | "NodePort";
  /** NodePorts per port name, from the endpoints object (PM-08). */
  readonly nodePorts?: Record<string, number>;
  readonly labels?: Record<string, string>;
}

/** A Service whose targetPorts are the container ports' names: they cannot drift apart (PM-06). */
export function service(args: ServiceArgs): K8sObject {
  const chosen = args.only ? args.ports.filter((p) => args.only!.includes(p.name)) : [...args.ports];
  for (const name of args.only ?? []) {
    if (!args.ports.some((p) => p.name === name)) throw new Error(`service ${args.name}: no container port named "${name}"`);
  }
  if (chosen.length === 0) throw new Error(`service ${args.name}: the workload exposes no named ports`);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: args.name, namespace: args.namespace, labels: args.labels ?? args.selector },
    spec: {
      type: args.type ?? "ClusterIP",
      selector: args.selector,
      ports: chosen.map((p) => ({
        name: p.name,
        port: args.servicePorts?.[p.name] ?? p.containerPort,
        targetPort: p.name,
        protocol: p.protocol ?? "TCP",
        ...(args.nodePorts?.[p.name] !== undefined ? { nodePort: args.nodePorts[p.name] } : {}),
      })),
    },
  };
}

export type PodSecurityLevel = "restricted" | "baseline" | "privileged";

export interface NamespaceArgs {
  readonly name: string;
  /** Pod Security Admission level, enforced. */
  readonly podSecurity: PodSecurityLevel;
  /** Istio sidecar injection. @default false */
  readonly istioInjection?: boolean;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function namespace(args: NamespaceArgs): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: args.name,
      labels: {
        "pod-security.kubernetes.io/enforce": args.podSecurity,
        "pod-security.kubernetes.io/warn": "restricted",
        ...(args.istioInjection ? { "istio-injection": "enabled" } : {}),
        ...args.labels,
      },
      ...(args.annotations ? { annotations: args.annotations } : {}),
    },
  };
}
