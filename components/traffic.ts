// The traffic plan: every flow the platform allows, declared once (from, to, ports, why). Each
// namespace's NetworkPolicies are generated from it (default deny + DNS + one policy per side of a
// flow), so the two halves of a flow cannot disagree, be forgotten, or be declared twice; and the
// README's traffic table is printed from the same list (`npm run traffic`).
import { ClusterContext } from "./lib/context";
import { K8sObject } from "./lib/k8s";
import { allowDns, allowEgress, allowIngress, cidrContains, defaultDeny, Peer as RulePeer, PortRef } from "./lib/network";
import { LOOPBACK_CIDR, METADATA_CIDR, trafficOptions } from "./traffic-options";
import { API_SERVER_PORT, ROLLOUTS_CONTROLLER_PODS, ROLLOUTS_METRICS_PORT } from "./delivery/rollouts";
import { ARGOCD_PODS, ARGOCD_PORTS } from "./gitops/argocd-values";
import { JOB_LABELS } from "./gitops/bootstrap-repo";
import { GITEA_HTTP_PORT, GITEA_SELECTOR, GITEA_SSH_PORT } from "./gitops/gitea-values";
import { REGISTRY_LABELS } from "./gitops/registry";
import { RUNNER_LABELS, RUNNER_NAMESPACE } from "./gitops/runner-config";
import { ISTIO_NAMESPACE, ISTIOD_PODS, ISTIOD_PORTS } from "./mesh/istio";
import { KIALI_METRICS_PORT, KIALI_PODS } from "./mesh/kiali";
import { GATEWAY_SELECTOR, ISTIO_MERGED_METRICS_PORT } from "./mesh/routing";
import { KSM_PODS, KSM_PORTS, PROMETHEUS_SERVER_PODS } from "./monitoring/kube-state-metrics";
import { API_LABELS, API_PORT, SAMPLE_APP_NAMESPACE, sampleDatabase } from "./apps/sample-app";
import { BACKUP_COMPONENTS, BACKUP_POD_LABELS, componentNamespace } from "./backup/jobs";
import { BACKUP_NAMESPACE, backupTraffic, REST_SERVER } from "./backup/settings";
import { ACME_SOLVER_PODS, ACME_SOLVER_PORT, CERT_MANAGER_NAMESPACE, CERT_MANAGER_PODS, CERT_MANAGER_WEBHOOK_PORT } from "./tls/cert-manager";

type Labels = Readonly<Record<string, string>>;

/** Pods of one namespace (all of them when `pods` is absent). */
export interface Pods { readonly kind: "pods"; readonly id: string; readonly namespace: string; readonly pods?: Labels }
/**
 * Addresses outside the pod network: the node (API server), the internet, NodePort clients.
 * `except` is filled in by the plan (withExcepts): an ipBlock that spans the pod or Service range
 * leaves it out, since kube-router matches ipBlocks against pod IPs too.
 */
export interface Cidrs { readonly kind: "cidrs"; readonly id: string; readonly cidrs: readonly string[]; readonly except?: readonly string[] }
/** Any pod in any namespace (sidecars everywhere, annotated scrape targets). */
export interface AnyPod { readonly kind: "any-pod"; readonly id: string }
/** No restriction on the source: pods, the node, the outside (webhooks from the API server, users via servicelb). */
export interface Anywhere { readonly kind: "anywhere"; readonly id: string }
export type Endpoint = Pods | Cidrs | AnyPod | Anywhere;

export interface Flow {
  /** Unique in the plan; the policies are `ingress-<id>` (in the destination's namespace) and `egress-<id>` (in the source's). */
  readonly id: string;
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly ports: readonly PortRef[];
  readonly why: string;
  /** The destination side ships with the app's manifests in Git (Argo CD applies it), not with the stack. */
  readonly destinationInGit?: boolean;
}

export interface TrafficOptions {
  /** Where the nodes are (the VCN, the host, the k3d network). @default trafficOptions({ environment }).nodeCidrs */
  readonly nodeCidrs?: readonly string[];
  /** Sources allowed to the Gitea and registry NodePorts (a NetworkPolicy sees them before kube-proxy's masquerade). @default the node range */
  readonly nodePortSources?: readonly string[];
  /** Where the API server is, as pods see it after the `kubernetes` Service's DNAT: the node. @default the node (subnet) range */
  readonly apiServerCidrs?: readonly string[];
  /** Pod range (K3s --cluster-cidr). @default K3S_CLUSTER_CIDR */
  readonly clusterCidr?: string;
  /** Service range (K3s --service-cidr). @default K3S_SERVICE_CIDR */
  readonly serviceCidr?: string;
  /** @default API_SERVER_PORT (6443) */
  readonly apiServerPort?: number;
  /** Extra pod ports Prometheus scrapes outside its namespace (apps without a sidecar). @default [] */
  readonly extraScrapePorts?: readonly number[];
}

/**
 * Ports Prometheus scrapes outside its namespace: istiod, merged sidecar/gateway metrics, Rollouts, Kiali.
 * A function, not a constant: components import this module while they load (no import-time reads).
 */
export function scrapePorts(): number[] {
  // Envoy's own 15090 is not here: Istio rewrites sidecars' scrape annotations to the merged 15020,
  // and the gateway chart annotates 15020. (CoreDNS annotates its Service, not its pods: the
  // annotated-pods job never scrapes it.)
  return [ISTIOD_PORTS.monitoring, ISTIO_MERGED_METRICS_PORT, ROLLOUTS_METRICS_PORT, KIALI_METRICS_PORT];
}

const tcp = (...ports: number[]): PortRef[] => ports.map((port) => ({ port }));

/**
 * What the runner's jobs may not reach on the internet flow (issue 14): they run with the runner
 * pod's network (PM-01), so this is their policy too. Link-local (cloud metadata 169.254.169.254),
 * loopback, CGNAT and the private ranges, which hold the pod and Service CIDRs (10.42/16, 10.43/16)
 * and the node, VCN or LAN addresses on every environment; Gitea and the registry stay reachable by
 * their own flows (pods, and the NodePorts on the node).
 */
export const RUNNER_DENIED_CIDRS: readonly string[] = ["10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"];
const pods = (id: string, namespace: string, labels?: Labels): Pods => ({ kind: "pods", id, namespace, ...(labels ? { pods: { ...labels } } : {}) });

/** Every allowed flow, in the order the README lists them. Pure: the same context gives the same plan. */
export function trafficPlan(ctx: ClusterContext, given: TrafficOptions = {}): Flow[] {
  const set = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const opts: TrafficOptions = { ...trafficOptions({ environment: ctx.environment }), ...set };
  const ep = ctx.endpoints;
  const g = ep.gitea.namespace;
  const a = ep.argocd.namespace;
  const m = ep.prometheus.namespace;
  const gitea = pods("gitea", g, GITEA_SELECTOR);
  const bootstrap = pods("bootstrap-job", g, JOB_LABELS);
  const runner = pods("runner", RUNNER_NAMESPACE, RUNNER_LABELS);
  const registry = pods("registry", ep.registry.namespace, REGISTRY_LABELS);
  const argocd = pods("argocd", a);
  const argocdServer = pods("argocd-server", a, ARGOCD_PODS.server);
  const repoServer = pods("argocd-repo-server", a, ARGOCD_PODS.repoServer);
  const redis = pods("argocd-redis", a, ARGOCD_PODS.redis);
  const rollouts = pods("argo-rollouts", ep.rollouts.namespace, ROLLOUTS_CONTROLLER_PODS);
  const istiod = pods("istiod", ISTIO_NAMESPACE, ISTIOD_PODS);
  const gateway = pods("gateway", ISTIO_NAMESPACE, GATEWAY_SELECTOR);
  const kiali = pods("kiali", ep.kiali.namespace, KIALI_PODS);
  const prometheus = pods("prometheus", m, PROMETHEUS_SERVER_PODS);
  const ksm = pods("kube-state-metrics", m, KSM_PODS);
  const app = pods("sample-app", SAMPLE_APP_NAMESPACE);
  const sampleApi = pods("sample-api", SAMPLE_APP_NAMESPACE, API_LABELS);
  const api: Cidrs = { kind: "cidrs", id: "api-server", cidrs: [...opts.apiServerCidrs!] };
  // Every flow to it leaves out the cluster, the nodes and the metadata service (withExcepts).
  const internet: Cidrs = { kind: "cidrs", id: "internet", cidrs: ["0.0.0.0/0"] };
  if (opts.nodePortSources && opts.nodePortSources.length === 0) {
    throw new Error("traffic plan: nodePortSources is empty; the Gitea and registry NodePorts (runner URL, node pulls) would be unreachable (PM-24)");
  }
  const nodePortClients: Cidrs = { kind: "cidrs", id: "nodeport-clients", cidrs: [...opts.nodePortSources!] };
  const anyPod: AnyPod = { kind: "any-pod", id: "all-pods" };
  const anywhere: Anywhere = { kind: "anywhere", id: "anywhere" };
  const apiPort = tcp(opts.apiServerPort ?? API_SERVER_PORT);
  const scrape = [...new Set([...scrapePorts(), ...(opts.extraScrapePorts ?? [])])].sort((x, y) => x - y);
  const flow = (from: Endpoint, to: Endpoint, ports: PortRef[], why: string, extra: Partial<Flow> = {}): Flow =>
    ({ id: `${from.id}-to-${to.id}`, from, to, ports, why, ...extra });

  return withExcepts([
    // Users in.
    flow(anywhere, gateway, tcp(80, 443, 15021), "users reach the ingress gateway through servicelb / k3d's load balancer; 15021 is its health port"),
    flow(gateway, gitea, tcp(GITEA_HTTP_PORT), "the Gitea UI and Git over HTTPS at git.<domain>"),
    flow(gateway, argocdServer, tcp(ARGOCD_PORTS.server), "the Argo CD UI at argocd.<domain>"),
    flow(gateway, kiali, tcp(ep.kiali.port), "the Kiali UI at kiali.<domain>"),
    flow(gateway, sampleApi, tcp(API_PORT.containerPort), "the sample app at app.<domain>", { destinationInGit: true }),
    // Git, CI and images.
    flow(repoServer, gitea, tcp(GITEA_HTTP_PORT), "Argo CD clones the platform repository (PM-14)"),
    flow(gitea, argocdServer, tcp(ARGOCD_PORTS.server), "Gitea's push webhooks start a sync without waiting for a poll"),
    flow(bootstrap, gitea, tcp(GITEA_HTTP_PORT), "the bootstrap Job creates the org and repository and pushes the content"),
    flow(bootstrap, api, apiPort, "the bootstrap Job applies the runner's org registration token Secret (issue 14)"),
    flow(runner, gitea, tcp(GITEA_HTTP_PORT), "act_runner registers and fetches jobs (PM-01)"),
    flow(runner, registry, tcp(ep.registry.pushPort), "workflow jobs push images to the read-write instance (PM-13, #14.1)"),
    flow(runner, { ...internet, except: [...RUNNER_DENIED_CIDRS] }, tcp(443, 80), "actions, base images and packages; not the metadata service, the cluster or the node (jobs share this pod's network, PM-01)"),
    flow(runner, { kind: "cidrs", id: "node-nodeports", cidrs: [...opts.apiServerCidrs!] }, tcp(ep.ports.giteaHttp, ep.ports.registry), "job containers reach Gitea (runner URL) and the registry on the node's NodePorts, in case egress is judged before kube-proxy's DNAT (PM-24)"),
    flow(nodePortClients, gitea, tcp(GITEA_HTTP_PORT, GITEA_SSH_PORT), "job containers check out through the NodePort (runner URL, PM-24) and Git over SSH"),
    flow(nodePortClients, registry, tcp(ep.registry.port), "node containerd pulls through the NodePort mirror from the read-only instance (PM-04, PM-15, #14.1)"),
    // Argo CD inside its namespace and out.
    flow(argocd, repoServer, tcp(ARGOCD_PORTS.repoServer), "controller, server and ApplicationSet controller render manifests"),
    flow(argocd, redis, tcp(ARGOCD_PORTS.redis), "Argo CD's cache"),
    flow(repoServer, internet, tcp(443), "external Git and Helm repositories, whose addresses are not known in advance"),
    flow(pods("argocd-controller", a, ARGOCD_PODS.controller), api, apiPort, "the application controller watches and applies"),
    flow(argocdServer, api, apiPort, "the UI and CLI read the cluster"),
    flow(pods("argocd-applicationset", a, ARGOCD_PODS.applicationSet), api, apiPort, "the ApplicationSet controller watches"),
    // Delivery and metrics.
    flow(pods("argo-rollouts-all", ep.rollouts.namespace), api, apiPort, "the Rollouts controller watches and patches"),
    flow(rollouts, prometheus, tcp(ep.prometheus.targetPort), "AnalysisRuns query Prometheus (PM-27)"),
    flow(prometheus, anyPod, scrape.map((port) => ({ port })), "scrapes annotated pods and sidecars in every namespace, on metrics ports only"),
    flow(prometheus, rollouts, tcp(ROLLOUTS_METRICS_PORT), "scrapes the Rollouts controller"),
    flow(prometheus, ksm, tcp(KSM_PORTS.metrics), "scrapes kube-state-metrics (PM-20)"),
    flow(prometheus, kiali, tcp(KIALI_METRICS_PORT), "scrapes Kiali"),
    flow(prometheus, istiod, tcp(ISTIOD_PORTS.monitoring), "scrapes istiod"),
    flow(prometheus, gateway, tcp(ISTIO_MERGED_METRICS_PORT), "scrapes the gateway's merged metrics"),
    flow(prometheus, app, tcp(ISTIO_MERGED_METRICS_PORT), "scrapes the sample app's merged app + Envoy metrics, plaintext even under STRICT mTLS"),
    flow(prometheus, api, apiPort, "service discovery (kubernetes_sd) through the API server"),
    flow(ksm, api, apiPort, "kube-state-metrics lists and watches"),
    // The mesh.
    flow(anyPod, istiod, tcp(ISTIOD_PORTS.xdsTls), "sidecars and gateways in every namespace fetch config and certificates over TLS (15012; plaintext 15010 closed)"),
    flow(anywhere, istiod, tcp(ISTIOD_PORTS.webhook), "the API server calls the injection and validation webhooks from the node"),
    flow(istiod, api, apiPort, "istiod watches the cluster"),
    flow(gateway, istiod, tcp(ISTIOD_PORTS.xdsTls), "the gateway's config and certificates"),
    flow(app, istiod, tcp(ISTIOD_PORTS.xdsTls), "the sample app's sidecars (API and database)"),
    flow(kiali, api, apiPort, "Kiali reads the mesh's objects"),
    flow(kiali, prometheus, tcp(ep.prometheus.targetPort), "Kiali's graphs"),
    flow(kiali, istiod, tcp(ISTIOD_PORTS.monitoring, 8080), "Kiali reads istiod's status and debug endpoints"),
    ...backupFlows(ctx),
    ...tlsFlows(ctx, { api, apiPort, internet, anywhere, gateway }),
  ], opts);
}

/**
 * cert-manager (components/tls): its API traffic and webhook always; the ACME flows only where a
 * Let's Encrypt issuer is configured (a platform CA signs in-cluster and talks to nobody).
 */
function tlsFlows(ctx: ClusterContext, p: { api: Cidrs; apiPort: PortRef[]; internet: Cidrs; anywhere: Anywhere; gateway: Pods }): Flow[] {
  const controller = pods("cert-manager", CERT_MANAGER_NAMESPACE, CERT_MANAGER_PODS.controller);
  const webhook = pods("cert-manager-webhook", CERT_MANAGER_NAMESPACE, CERT_MANAGER_PODS.webhook);
  const solver = pods("acme-solver", ISTIO_NAMESPACE, ACME_SOLVER_PODS);
  const acme = ctx.tls !== undefined && ctx.tls.issuer !== "platform-ca";
  const flow = (from: Endpoint, to: Endpoint, ports: PortRef[], why: string): Flow => ({ id: `${from.id}-to-${to.id}`, from, to, ports, why });
  return [
    flow(pods("cert-manager-all", CERT_MANAGER_NAMESPACE), p.api, p.apiPort, "cert-manager's controller, webhook, cainjector and startup API check"),
    flow(p.anywhere, webhook, tcp(CERT_MANAGER_WEBHOOK_PORT), "the API server calls cert-manager's webhook from the node (the namespace is outside the mesh)"),
    ...(acme ? [
      flow(controller, p.internet, tcp(443, 80), "Let's Encrypt only: its ACME API (443); the HTTP-01 self-check (80) when the public address leaves the node"),
      flow(controller, p.gateway, tcp(80), "Let's Encrypt only: the HTTP-01 self-check, when kube-proxy sends the public address straight to the gateway"),
      flow(p.gateway, solver, tcp(ACME_SOLVER_PORT), "Let's Encrypt only: /.well-known/acme-challenge/ on port 80 reaches cert-manager's HTTP-01 solver pods"),
    ] : []),
  ];
}

/**
 * What an ipBlock leaves out. Any range spanning the pod or Service network drops them (kube-router
 * matches ipBlocks against pod IPs, so 0.0.0.0/0 would admit every pod); the internet, i.e. any
 * 0.0.0.0/0 peer of any flow, also drops the metadata service, loopback and the nodes.
 */
export function exceptsFor(cidr: string, opts: TrafficOptions): string[] {
  const cluster = [METADATA_CIDR, LOOPBACK_CIDR, opts.clusterCidr!, opts.serviceCidr!];
  const internet = cidr.endsWith("/0")
    ? [...cluster, ...(opts.nodeCidrs ?? []), ...(opts.nodePortSources ?? []), ...(opts.apiServerCidrs ?? [])]
    : cidrContains(cidr, opts.clusterCidr!) || cidrContains(cidr, opts.serviceCidr!) ? cluster : [];
  const inside = [...new Set(internet)].filter((e) => e !== cidr && cidrContains(cidr, e));
  // Drop ranges nested in another except: the same addresses, a shorter list.
  return inside.filter((e) => !inside.some((o) => o !== e && cidrContains(o, e))).sort();
}

function withExcepts(flows: Flow[], opts: TrafficOptions): Flow[] {
  // A flow's own excepts (the runner's, RUNNER_DENIED_CIDRS) are kept and the generic ones added.
  const fix = (e: Endpoint): Endpoint => {
    if (e.kind !== "cidrs") return e;
    const all = [...new Set([...(e.except ?? []), ...e.cidrs.flatMap((c) => exceptsFor(c, opts))])];
    const except = all.filter((x) => !all.some((o) => o !== x && cidrContains(o, x))).sort();
    return except.length > 0 ? { ...e, except } : e;
  };
  return flows.map((f) => ({ ...f, from: fix(f.from), to: fix(f.to) }));
}

/**
 * Backups (components/backup): every component's backup and restore pods out to its restic
 * repository (the object store, or the rest-server of the host-path target), and the database's
 * dump and restore over the mesh. The target comes from ctx.backup, or the environment's default.
 */
function backupFlows(ctx: ClusterContext): Flow[] {
  const target = backupTraffic(ctx.environment, ctx.backup);
  const store: Endpoint = target.kind === "object-store"
    ? { kind: "cidrs", id: "backup-store", cidrs: [...target.cidrs] }
    : pods("restic-rest", BACKUP_NAMESPACE, REST_SERVER.labels);
  const storePorts = tcp(...(target.kind === "object-store" ? target.ports : [REST_SERVER.port]));
  const jobs = (c: (typeof BACKUP_COMPONENTS)[number]) => pods(`${c}-backup`, componentNamespace(ctx, c), BACKUP_POD_LABELS);
  const db = sampleDatabase(ctx);
  const dbPort = db.statefulSet.spec.template.spec.containers[0].ports[0].containerPort as number;
  const out = (c: (typeof BACKUP_COMPONENTS)[number]): Flow =>
    ({ id: `${c}-backup-to-${store.id}`, from: jobs(c), to: store, ports: storePorts, why: `${c} backups and restores reach their restic repository` });
  return [
    ...BACKUP_COMPONENTS.map(out),
    { id: "postgres-backup-to-sample-db", from: jobs("postgres"), to: pods("sample-db", SAMPLE_APP_NAMESPACE, db.podLabels), ports: tcp(dbPort), why: "pg_dump and pg_restore of the sample database, inside the mesh (mTLS STRICT)" },
  ];
}

/** Throws when two flows share an id (their policies would share a name). */
export function checkPlan(flows: readonly Flow[]): void {
  const seen = new Set<string>();
  for (const f of flows) {
    if (seen.has(f.id)) throw new Error(`traffic plan: flow "${f.id}" is declared twice; merge its ports into one flow`);
    seen.add(f.id);
    if (f.ports.length === 0) throw new Error(`traffic plan: flow "${f.id}" has no ports`);
    if (f.from.kind !== "pods" && f.to.kind !== "pods") throw new Error(`traffic plan: flow "${f.id}" has no pods on either side`);
  }
}

function rulePeer(e: Endpoint): RulePeer[] {
  switch (e.kind) {
    case "pods": return [{ namespace: e.namespace, podLabels: e.pods }];
    case "cidrs": return e.cidrs.map((cidr) => ({ cidr, except: (e.except ?? []).filter((x) => x !== cidr && cidrContains(cidr, x)) }));
    case "any-pod": return [{ allNamespaces: true }];
    case "anywhere": return [];
  }
}

const portsCover = (wide: readonly PortRef[], narrow: readonly PortRef[]) =>
  narrow.every((n) => wide.some((w) => w.port === n.port && (w.protocol ?? "TCP") === (n.protocol ?? "TCP")));
const samePods = (x: Endpoint, y: Endpoint) => x.kind === "pods" && y.kind === "pods" && x.id === y.id;

/** A side already allowed by a wider flow (to any pod, or from any source) gets no policy of its own. */
function covered(flows: readonly Flow[], f: Flow, side: "ingress" | "egress"): boolean {
  return flows.some((o) => o !== f && (side === "egress"
    ? samePods(o.from, f.from) && o.to.kind === "any-pod" && f.to.kind !== "any-pod" && portsCover(o.ports, f.ports)
    : samePods(o.to, f.to) && (o.from.kind === "any-pod" || o.from.kind === "anywhere") && f.from.kind === "pods" && portsCover(o.ports, f.ports)));
}

/** The ingress policy in the destination's namespace, or undefined when the destination is not pods. */
export function ingressPolicy(f: Flow): K8sObject | undefined {
  if (f.to.kind !== "pods") return undefined;
  return allowIngress({ name: `ingress-${f.id}`, namespace: f.to.namespace, podLabels: f.to.pods, from: rulePeer(f.from), ports: f.ports });
}

/** The egress policy in the source's namespace, or undefined when the source is not pods. */
export function egressPolicy(f: Flow): K8sObject | undefined {
  if (f.from.kind !== "pods") return undefined;
  return allowEgress({ name: `egress-${f.id}`, namespace: f.from.namespace, podLabels: f.from.pods, to: rulePeer(f.to), ports: f.ports });
}

/** Every namespace the plan has pods in: each gets default deny and DNS. */
export function planNamespaces(flows: readonly Flow[]): string[] {
  const out = new Set<string>();
  for (const f of flows) for (const e of [f.from, f.to]) if (e.kind === "pods") out.add(e.namespace);
  return [...out].sort();
}

/**
 * The NetworkPolicies the stack applies in one namespace: default deny, DNS, then one per flow side
 * that lands there. The namespace's owner registers them (after its Namespace).
 */
export function namespacePolicies(flows: readonly Flow[], namespace: string): K8sObject[] {
  checkPlan(flows);
  const out: K8sObject[] = [defaultDeny(namespace), allowDns(namespace)];
  for (const f of flows) {
    if (f.from.kind === "pods" && f.from.namespace === namespace && !covered(flows, f, "egress")) out.push(egressPolicy(f)!);
    if (f.to.kind === "pods" && f.to.namespace === namespace && !f.destinationInGit && !covered(flows, f, "ingress")) out.push(ingressPolicy(f)!);
  }
  return out;
}

/** The policies of one namespace under this context's plan: what a namespace's owner registers. */
export function policiesIn(ctx: ClusterContext, namespace: string): K8sObject[] {
  return namespacePolicies(trafficPlan(ctx, ctx.traffic), namespace);
}

/** The destination sides that ship in an app's Git manifests (destinationInGit) for one namespace. */
export function gitPolicies(flows: readonly Flow[], namespace: string): K8sObject[] {
  return flows.filter((f) => f.destinationInGit && f.to.kind === "pods" && f.to.namespace === namespace).map((f) => ingressPolicy(f)!);
}

function describe(e: Endpoint): string {
  switch (e.kind) {
    case "pods": return `${e.namespace}/${e.pods ? e.id : "*"}`;
    case "cidrs": return `${e.id} (${e.cidrs.join(", ")}${e.except ? ` except ${e.except.join(", ")}` : ""})`;
    case "any-pod": return "any pod";
    case "anywhere": return "anywhere";
  }
}

/** The README's traffic table, from the plan. */
export function trafficTable(flows: readonly Flow[]): string {
  const rows = flows.map((f) => `| ${describe(f.from)} | ${describe(f.to)} | ${f.ports.map((p) => `${p.port}${p.protocol === "UDP" ? "/udp" : ""}`).join(", ")} | ${f.why} |`);
  return ["| from | to | ports | why |", "|---|---|---|---|", ...rows].join("\n");
}
