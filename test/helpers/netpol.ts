// A small NetworkPolicy evaluator (networking.k8s.io/v1 semantics for the selectors this project
// writes: matchLabels, namespaceSelector on kubernetes.io/metadata.name, ipBlock, numeric ports),
// so tests can ask "may A reach B on port P?" of the policies, not of their names.
import { K8sObject } from "../../components/lib/k8s";

export interface Pod {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Its address in the pod network. @default DEFAULT_POD_IP */
  readonly ip?: string;
}
/** Where a pod without an explicit address is: inside K3s's pod range (K3S_CLUSTER_CIDR). */
export const DEFAULT_POD_IP = "10.42.0.50";
/** A destination or source outside the pod network (the node, the internet). */
export interface Address {
  readonly ip: string;
  /** An address of the destination pod's own node (127.0.0.0/8 always is). @default false */
  readonly localNode?: boolean;
}
export type Party = Pod | Address;

const isPod = (p: Party): p is Pod => "namespace" in p;

function matches(selector: { matchLabels?: Record<string, string> } | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const n = (a: string) => a.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

function peerMatches(peer: any, party: Party): boolean {
  if (peer.ipBlock) {
    // With K3s's policy controller (kube-router) an ipBlock matches pod IPs too, not only
    // addresses outside the cluster as the API reference suggests: a 0.0.0.0/0 admits every pod.
    const ip = isPod(party) ? party.ip ?? DEFAULT_POD_IP : party.ip;
    return ipInCidr(ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((e: string) => ipInCidr(ip, e));
  }
  if (!isPod(party)) return false;
  const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, { "kubernetes.io/metadata.name": party.namespace }) : undefined;
  const podOk = peer.podSelector ? matches(peer.podSelector, party.labels) : undefined;
  // namespaceSelector alone: any pod there; podSelector alone: pods of the policy's own namespace (checked by caller).
  return (nsOk ?? true) && (podOk ?? true);
}

function ruleAllows(rule: any, peers: any[] | undefined, party: Party, port: number, policyNs: string): boolean {
  const portOk = !rule.ports || rule.ports.length === 0 || rule.ports.some((p: any) => p.port === port && (p.protocol ?? "TCP") === "TCP");
  if (!portOk) return false;
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => peerMatches(peer, party) && (peer.namespaceSelector || peer.ipBlock || (isPod(party) && party.namespace === policyNs)));
}

/** Is traffic from `from` to `to` on TCP `port` allowed by these policies (both the egress and the ingress side)? */
export function allowed(policies: readonly K8sObject[], from: Party, to: Party, port: number): boolean {
  const side = (pod: Pod, type: "Ingress" | "Egress", other: Party): boolean => {
    const selecting = policies.filter((p: any) => p.kind === "NetworkPolicy" && p.metadata.namespace === pod.namespace
      && (p.spec.policyTypes ?? ["Ingress"]).includes(type) && matches(p.spec.podSelector, pod.labels));
    if (selecting.length === 0) return true; // not isolated
    return selecting.some((p: any) => (type === "Ingress" ? p.spec.ingress : p.spec.egress ?? [])
      ?.some((rule: any) => ruleAllows(rule, type === "Ingress" ? rule.from : rule.to, other, port, pod.namespace)));
  };
  const out = isPod(from) ? side(from, "Egress", to) : true;
  // kube-router accepts whatever comes from the pod's own node before any policy (pod.go "from
  // local node", --src-type LOCAL): kubelet probes and node-local containerd pulls via 127.0.0.1.
  const fromNode = !isPod(from) && (from.localNode || ipInCidr(from.ip, "127.0.0.0/8"));
  const inn = isPod(to) ? fromNode || side(to, "Ingress", from) : true;
  return out && inn;
}

import { ClusterContext } from "../../components/lib/context";
import { namespacePolicies, planNamespaces, policiesIn, trafficPlan } from "../../components/traffic";

/** Every namespace's policies under the context's plan (both halves of every flow). */
export function platformPolicies(ctx: ClusterContext): K8sObject[] {
  const plan = trafficPlan(ctx, ctx.traffic);
  return planNamespaces(plan).flatMap((ns) => namespacePolicies(plan, ns));
}

/** Names of the policies the plan gives one namespace, sorted: what its owner must register. */
export function planPolicyNames(ctx: ClusterContext, namespace: string): string[] {
  return policiesIn(ctx, namespace).map((p) => p.metadata.name).sort();
}
