// NetworkPolicy builders: default deny per namespace, then explicit allows (issue 5 hardening,
// PM-20 Prometheus scrapes, PM-27 rollouts -> Prometheus).
import { K8sObject } from "./k8s";

/** The OCI VCN and node subnet (oci-host.ts defaults; the traffic plan's node range on oci). */
export const OCI_VCN_CIDR = "10.0.0.0/16";
export const OCI_SUBNET_CIDR = "10.0.1.0/24";

export interface Peer {
  /** Namespace name (matched by kubernetes.io/metadata.name). */
  readonly namespace?: string;
  readonly podLabels?: Record<string, string>;
  /** An IP block instead of pods, e.g. the node or VCN CIDR. */
  readonly cidr?: string;
  /** Ranges inside `cidr` left out (ipBlock.except). */
  readonly except?: readonly string[];
  /** Any pod in any namespace. */
  readonly allNamespaces?: boolean;
}

export interface PortRef {
  readonly port: number | string;
  readonly protocol?: "TCP" | "UDP";
}

function peer(p: Peer): Record<string, unknown> {
  if (p.cidr) return { ipBlock: { cidr: p.cidr, ...(p.except && p.except.length > 0 ? { except: [...p.except] } : {}) } };
  if (p.allNamespaces) return { namespaceSelector: {} };
  const out: Record<string, unknown> = {};
  if (p.namespace) out.namespaceSelector = { matchLabels: { "kubernetes.io/metadata.name": p.namespace } };
  out.podSelector = { matchLabels: p.podLabels ?? {} };
  return out;
}

const ports = (list: readonly PortRef[]) => list.map((p) => ({ port: p.port, protocol: p.protocol ?? "TCP" }));

export function defaultDeny(namespace: string): K8sObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  };
}

/** Every pod may resolve names through CoreDNS. */
export function allowDns(namespace: string): K8sObject {
  return allowEgress({
    name: "allow-dns", namespace,
    to: [{ namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } }],
    ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }],
  });
}

export interface RuleArgs {
  readonly name: string;
  readonly namespace: string;
  /** Pods the rule applies to. @default all pods in the namespace */
  readonly podLabels?: Record<string, string>;
  readonly ports: readonly PortRef[];
}

/** No peers: the rule admits every source (or destination), the node and the outside included. */
function allow(direction: "Ingress" | "Egress", args: RuleArgs, peers: readonly Peer[]): K8sObject {
  const side = peers.length === 0 ? {} : { [direction === "Ingress" ? "from" : "to"]: peers.map(peer) };
  const rule = { ...side, ports: ports(args.ports) };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: args.name, namespace: args.namespace },
    spec: {
      podSelector: { matchLabels: args.podLabels ?? {} },
      policyTypes: [direction],
      [direction === "Ingress" ? "ingress" : "egress"]: [rule],
    },
  };
}

export function allowIngress(args: RuleArgs & { readonly from: readonly Peer[] }): K8sObject {
  return allow("Ingress", args, args.from);
}

export function allowEgress(args: RuleArgs & { readonly to: readonly Peer[] }): K8sObject {
  return allow("Egress", args, args.to);
}

const ipv4 = (ip: string) => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);

/** The first and last address of an IPv4 CIDR, as numbers. */
export function cidrRange(cidr: string): [number, number] {
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits ?? 32));
  const start = Math.floor(ipv4(base) / size) * size;
  return [start, start + size - 1];
}

/** True when `inner` lies inside `outer` (equal ranges included). */
export function cidrContains(outer: string, inner: string): boolean {
  const [a, b] = cidrRange(outer);
  const [c, d] = cidrRange(inner);
  return a <= c && d <= b;
}
