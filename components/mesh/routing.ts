// Typed Istio routing builders: Gateways whose ports are always named (PM-37) and which select the
// installed ingress gateway (PM-38); VirtualService weights, retries, timeouts; DestinationRule
// subsets, connection pool and outlier detection; STRICT mTLS per namespace (PM-39).
import { K8sObject, namespace } from "../lib/k8s";

/** Pod labels of the ingress gateway the Istio component installs (gateway chart, release istio-ingressgateway). */
export const GATEWAY_SELECTOR: Readonly<Record<string, string>> = Object.freeze({ istio: "ingressgateway" });

const DURATION = /^\d+(\.\d+)?(ms|s|m|h)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkDuration(value: string | undefined, what: string): void {
  if (value !== undefined && (typeof value !== "string" || !DURATION.test(value))) throw new Error(`${what}: "${value}" is not a duration like 2s or 500ms`);
}
function checkName(value: string, what: string): void {
  if (typeof value !== "string" || value.length > 63 || !DNS_LABEL.test(value)) throw new Error(`${what}: "${value}" is not a DNS-1123 label`);
}
function checkHosts(hosts: readonly string[] | undefined, what: string): void {
  if (!Array.isArray(hosts) || hosts.length === 0) throw new Error(`${what}: at least one host`);
  for (const h of hosts) if (typeof h !== "string" || h.trim() === "" || /\s/.test(h)) throw new Error(`${what}: invalid host "${h}"`);
}

export type GatewayProtocol = "HTTP" | "HTTPS" | "HTTP2" | "GRPC" | "TCP" | "TLS";
const PROTOCOLS: readonly string[] = ["HTTP", "HTTPS", "HTTP2", "GRPC", "TCP", "TLS"];

export interface GatewayServer {
  /** name is derived (`http-80`) when absent; number and protocol are required (PM-37). */
  readonly port: { readonly name?: string; readonly number: number; readonly protocol: GatewayProtocol };
  readonly hosts: readonly string[];
  /** Istio ServerTLSSettings, required by HTTPS/TLS servers. */
  readonly tls?: Record<string, unknown>;
}

export interface GatewayArgs {
  readonly name: string;
  readonly namespace: string;
  readonly servers: readonly GatewayServer[];
  /** @default GATEWAY_SELECTOR: the ingress gateway installed with the mesh (PM-38). */
  readonly selector?: Record<string, string>;
}

export function gateway(args: GatewayArgs): K8sObject {
  const what = `gateway ${args.name}`;
  checkName(args.name, `${what} name`);
  checkName(args.namespace, `${what} namespace`);
  if (!args.servers?.length) throw new Error(`${what}: at least one server`);
  const selector = args.selector ?? { ...GATEWAY_SELECTOR };
  if (Object.keys(selector).length === 0) throw new Error(`${what}: an empty selector matches no gateway deployment (PM-38)`);
  const names = new Set<string>();
  const servers = args.servers.map((s, i) => {
    const p = s.port as Partial<GatewayServer["port"]> | undefined;
    if (!p || p.number === undefined) throw new Error(`${what}: servers[${i}].port.number is required (PM-37)`);
    if (!Number.isInteger(p.number) || p.number < 1 || p.number > 65535) throw new Error(`${what}: servers[${i}].port.number ${p.number} is not a port`);
    if (!p.protocol) throw new Error(`${what}: servers[${i}].port.protocol is required (PM-37)`);
    if (!PROTOCOLS.includes(p.protocol)) throw new Error(`${what}: servers[${i}].port.protocol ${p.protocol} is not one of ${PROTOCOLS.join(", ")}`);
    const name = p.name ?? `${p.protocol.toLowerCase()}-${p.number}`;
    checkName(name, `${what} servers[${i}].port.name`);
    if (names.has(name)) throw new Error(`${what}: duplicate server port name ${name}`);
    names.add(name);
    checkHosts(s.hosts, `${what} servers[${i}]`);
    if ((p.protocol === "HTTPS" || p.protocol === "TLS") && !s.tls) throw new Error(`${what}: servers[${i}] (${p.protocol}) needs tls settings`);
    return { port: { name, number: p.number, protocol: p.protocol }, hosts: [...s.hosts], ...(s.tls ? { tls: { ...s.tls } } : {}) };
  });
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: args.name, namespace: args.namespace },
    spec: { selector, servers },
  };
}

export interface RouteDestination {
  /** Service host: a short name in the same namespace or an FQDN from the endpoints object. */
  readonly host: string;
  readonly subset?: string;
  readonly port?: number;
  /** Percent; all destinations of a route must sum to 100 (a single one may omit it). */
  readonly weight?: number;
}

export interface Retries {
  readonly attempts: number;
  readonly perTryTimeout: string;
  /** @default "5xx,reset,connect-failure,retriable-status-codes" */
  readonly retryOn?: string;
}

export interface HttpRoute {
  /** Route name: Argo Rollouts finds the route to split by it. */
  readonly name?: string;
  /** Istio HTTPMatchRequest list, e.g. [{ uri: { prefix: "/" } }]. */
  readonly match?: readonly Record<string, unknown>[];
  /** Destinations; absent exactly when `redirect` is set. */
  readonly route?: readonly RouteDestination[];
  /** Istio HTTPRedirect instead of a route, e.g. { scheme: "https", port: 443, redirectCode: 308 }. */
  readonly redirect?: { readonly scheme?: "http" | "https"; readonly port?: number; readonly redirectCode?: number };
  readonly retries?: Retries;
  /** Whole-request timeout, e.g. "10s". */
  readonly timeout?: string;
}

export interface VirtualServiceArgs {
  readonly name: string;
  readonly namespace: string;
  readonly hosts: readonly string[];
  /** Gateways as namespace/name; "mesh" for sidecar traffic. @default none (mesh only) */
  readonly gateways?: readonly string[];
  readonly http: readonly HttpRoute[];
}

function redirectRoute(r: HttpRoute, what: string): Record<string, unknown> {
  const rd = r.redirect!;
  if (r.route !== undefined || r.retries || r.timeout) throw new Error(`${what}: a redirect has no destinations, retries or timeout`);
  if (rd.port !== undefined && (!Number.isInteger(rd.port) || rd.port < 1 || rd.port > 65535)) throw new Error(`${what}: redirect port ${rd.port} is not a port`);
  if (rd.redirectCode !== undefined && ![301, 302, 303, 307, 308].includes(rd.redirectCode)) throw new Error(`${what}: redirectCode ${rd.redirectCode} is not a redirect`);
  const out: Record<string, unknown> = {};
  if (r.name !== undefined) { checkName(r.name, `${what} name`); out.name = r.name; }
  if (r.match) out.match = r.match.map((m) => ({ ...m }));
  out.redirect = { ...rd };
  return out;
}

function httpRoute(r: HttpRoute, what: string): Record<string, unknown> {
  if (r.redirect) return redirectRoute(r, what);
  if (!r.route?.length) throw new Error(`${what}: at least one destination`);
  const weights = r.route.map((d) => d.weight);
  const weighted = weights.some((w) => w !== undefined);
  if (weighted || r.route.length > 1) {
    if (weights.some((w) => w === undefined || !Number.isInteger(w) || w < 0 || w > 100)) throw new Error(`${what}: every destination needs an integer weight 0..100`);
    const sum = weights.reduce((a: number, w) => a + (w ?? 0), 0);
    if (sum !== 100) throw new Error(`${what}: weights must sum to 100, got ${sum}`);
  }
  const route = r.route.map((d) => {
    checkHosts([d.host], what);
    if (d.port !== undefined && (!Number.isInteger(d.port) || d.port < 1 || d.port > 65535)) throw new Error(`${what}: destination port ${d.port} is not a port`);
    return {
      destination: { host: d.host, ...(d.subset ? { subset: d.subset } : {}), ...(d.port !== undefined ? { port: { number: d.port } } : {}) },
      ...(d.weight !== undefined ? { weight: d.weight } : {}),
    };
  });
  const out: Record<string, unknown> = {};
  if (r.name !== undefined) { checkName(r.name, `${what} name`); out.name = r.name; }
  if (r.match) out.match = r.match.map((m) => ({ ...m }));
  out.route = route;
  if (r.retries) {
    if (!Number.isInteger(r.retries.attempts) || r.retries.attempts < 0) throw new Error(`${what}: retries.attempts must be an integer >= 0`);
    if (!r.retries.perTryTimeout) throw new Error(`${what}: retries.perTryTimeout is required`);
    checkDuration(r.retries.perTryTimeout, `${what} retries.perTryTimeout`);
    out.retries = { attempts: r.retries.attempts, perTryTimeout: r.retries.perTryTimeout, retryOn: r.retries.retryOn ?? "5xx,reset,connect-failure,retriable-status-codes" };
  }
  if (r.timeout !== undefined) { checkDuration(r.timeout, `${what} timeout`); out.timeout = r.timeout; }
  return out;
}

export function virtualService(args: VirtualServiceArgs): K8sObject {
  const what = `virtualService ${args.name}`;
  checkName(args.name, `${what} name`);
  checkName(args.namespace, `${what} namespace`);
  checkHosts(args.hosts, what);
  if (!args.http?.length) throw new Error(`${what}: at least one http route`);
  const names = args.http.map((r) => r.name).filter((n): n is string => n !== undefined);
  if (new Set(names).size !== names.length) throw new Error(`${what}: duplicate http route names`);
  for (const g of args.gateways ?? []) if (!g || /\s/.test(g)) throw new Error(`${what}: invalid gateway "${g}"`);
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: args.name, namespace: args.namespace },
    spec: {
      hosts: [...args.hosts],
      ...(args.gateways?.length ? { gateways: [...args.gateways] } : {}),
      http: args.http.map((r, i) => httpRoute(r, `${what} http[${i}]`)),
    },
  };
}

export interface ConnectionPool {
  readonly tcp?: { readonly maxConnections?: number; readonly connectTimeout?: string };
  readonly http?: { readonly http1MaxPendingRequests?: number; readonly http2MaxRequests?: number; readonly maxRequestsPerConnection?: number; readonly maxRetries?: number };
}

export interface OutlierDetection {
  readonly consecutive5xxErrors: number;
  readonly interval: string;
  readonly baseEjectionTime: string;
  /** @default 50 */
  readonly maxEjectionPercent?: number;
}

export interface DestinationRuleArgs {
  readonly name: string;
  readonly namespace: string;
  readonly host: string;
  /** Subsets by labels (Argo Rollouts adds the pod-template hash to canary/stable subsets). */
  readonly subsets?: readonly { readonly name: string; readonly labels: Record<string, string> }[];
  readonly connectionPool?: ConnectionPool;
  readonly outlierDetection?: OutlierDetection;
  /** @default "ISTIO_MUTUAL" (matches STRICT PeerAuthentication) */
  readonly tlsMode?: "ISTIO_MUTUAL" | "DISABLE";
}

function positiveInts(obj: Record<string, unknown> | undefined, what: string): void {
  for (const [k, v] of Object.entries(obj ?? {})) {
    if (typeof v === "number" && (!Number.isInteger(v) || v < 1)) throw new Error(`${what}.${k} must be an integer >= 1, got ${v}`);
  }
}

export function destinationRule(args: DestinationRuleArgs): K8sObject {
  const what = `destinationRule ${args.name}`;
  checkName(args.name, `${what} name`);
  checkName(args.namespace, `${what} namespace`);
  checkHosts([args.host], what);
  const seen = new Set<string>();
  for (const s of args.subsets ?? []) {
    checkName(s.name, `${what} subset`);
    if (seen.has(s.name)) throw new Error(`${what}: duplicate subset ${s.name}`);
    seen.add(s.name);
    if (!s.labels || Object.keys(s.labels).length === 0) throw new Error(`${what}: subset ${s.name} needs labels`);
  }
  positiveInts(args.connectionPool?.tcp as any, `${what} connectionPool.tcp`);
  positiveInts(args.connectionPool?.http as any, `${what} connectionPool.http`);
  checkDuration(args.connectionPool?.tcp?.connectTimeout, `${what} connectionPool.tcp.connectTimeout`);
  const trafficPolicy: Record<string, unknown> = { tls: { mode: args.tlsMode ?? "ISTIO_MUTUAL" } };
  if (args.connectionPool) trafficPolicy.connectionPool = JSON.parse(JSON.stringify(args.connectionPool));
  const od = args.outlierDetection;
  if (od) {
    if (!Number.isInteger(od.consecutive5xxErrors) || od.consecutive5xxErrors < 1) throw new Error(`${what}: outlierDetection.consecutive5xxErrors must be an integer >= 1`);
    checkDuration(od.interval, `${what} outlierDetection.interval`);
    checkDuration(od.baseEjectionTime, `${what} outlierDetection.baseEjectionTime`);
    if (!od.interval || !od.baseEjectionTime) throw new Error(`${what}: outlierDetection needs interval and baseEjectionTime`);
    const max = od.maxEjectionPercent ?? 50;
    if (!Number.isInteger(max) || max < 0 || max > 100) throw new Error(`${what}: outlierDetection.maxEjectionPercent must be 0..100`);
    trafficPolicy.outlierDetection = { consecutive5xxErrors: od.consecutive5xxErrors, interval: od.interval, baseEjectionTime: od.baseEjectionTime, maxEjectionPercent: max };
  }
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: args.name, namespace: args.namespace },
    spec: {
      host: args.host,
      trafficPolicy,
      ...(args.subsets?.length ? { subsets: args.subsets.map((s) => ({ name: s.name, labels: { ...s.labels } })) } : {}),
    },
  };
}

/** STRICT mTLS for every workload in the namespace (PM-39). */
export function peerAuthentication(namespace: string): K8sObject {
  checkName(namespace, "peerAuthentication namespace");
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace },
    spec: { mtls: { mode: "STRICT" } },
  };
}

/**
 * Pod Security level for namespaces with sidecar injection: istio-init adds NET_ADMIN and NET_RAW to
 * set up iptables (no Istio CNI here), and both "restricted" and "baseline" forbid those capabilities
 * (istio.io, "Pod Security Admission"; Kubernetes Pod Security Standards, baseline "Capabilities").
 * Admission checks the pod after injection, so anything below "privileged" rejects every app pod.
 * The app containers themselves stay hardened (container()); the policy pack still refuses
 * privileged containers there.
 */
export const SIDECAR_NAMESPACE_POD_SECURITY = "privileged" as const;

/**
 * Port where the sidecar agent serves merged app + Envoy metrics (meshConfig.enablePrometheusMerge,
 * on by default): plaintext even under STRICT mTLS, so Prometheus without a sidecar can scrape it.
 */
export const ISTIO_MERGED_METRICS_PORT = 15020;

/** A namespace whose pods get sidecars: injection on, Pod Security as istio-init needs (see above). */
export function meshNamespace(name: string, labels?: Record<string, string>): K8sObject {
  checkName(name, "meshNamespace");
  return namespace({ name, podSecurity: SIDECAR_NAMESPACE_POD_SECURITY, istioInjection: true, labels });
}
