// Everything that can be decided before a resource exists: nodes, capacity, the port plan and the
// resource budget. index.ts calls planPlatform() first, so a bad plan registers nothing (PM-07, PM-08).
import { PlatformConfig } from "../config";
import { Budget, BudgetItem, capacityOf, computeBudget, assertBudget } from "./lib/budget";
import { checkNodePorts, checkUniquePorts, DEFAULT_PORTS, hostPorts, PortPlan, PUBLIC_HOSTS } from "./lib/endpoints";
import { ContainerKey, K3S_PACKAGED, sizeOf } from "./lib/sizes";
import { backupBudgetItems } from "./backup/budget";

export interface NodePlan {
  readonly name: string;
  readonly cpus: number;
  readonly memoryGb: number;
}

export interface Plan {
  readonly nodes: readonly NodePlan[];
  readonly ports: PortPlan;
  readonly budget: Budget;
}

/** Every long-running container the platform deploys, with its replica count. */
export const PLATFORM_CONTAINERS: readonly { key: ContainerKey; component: string; replicas?: number }[] = [
  { key: "gitea", component: "gitea" },
  { key: "actRunner", component: "runner" },
  { key: "dind", component: "runner" },
  { key: "registry", component: "registry" },
  { key: "registryPush", component: "registry" },
  { key: "argocdController", component: "argocd" },
  { key: "argocdServer", component: "argocd" },
  { key: "argocdRepoServer", component: "argocd" },
  { key: "argocdRedis", component: "argocd" },
  { key: "rolloutsController", component: "argo-rollouts" },
  { key: "istiod", component: "istio" },
  { key: "istioGateway", component: "istio" },
  { key: "kiali", component: "kiali" },
  { key: "prometheus", component: "prometheus" },
  { key: "kubeStateMetrics", component: "kube-state-metrics" },
  { key: "certManagerController", component: "cert-manager" },
  { key: "certManagerWebhook", component: "cert-manager" },
  { key: "certManagerCainjector", component: "cert-manager" },
  // The sample app: 2 stable replicas, each with an Istio sidecar, and Postgres with one.
  { key: "sampleApi", component: "sample-app", replicas: 2 },
  { key: "samplePostgres", component: "sample-app" },
  { key: "samplePasswordSync", component: "sample-app" },
  { key: "istioProxy", component: "sample-app", replicas: 3 },
  // Backup CronJob pods: short-lived, but counted (components/backup/budget.ts says why): one at a time.
  { key: "backupJob", component: "backup" },
];

/** The UIs with a certificate each (mesh/istio.ts publishedHosts): all may be challenged at once. */
export const ACME_SOLVER_PODS_AT_ONCE = PUBLIC_HOSTS.length;

export function nodesOf(cfg: PlatformConfig): NodePlan[] {
  if (cfg.oci) {
    return Array.from({ length: cfg.oci.nodeCount }, (_, i) => ({
      name: i === 0 ? "server-0" : `agent-${i}`, cpus: cfg.oci!.ocpus, memoryGb: cfg.oci!.memoryGb,
    }));
  }
  return [{ name: "server-0", cpus: cfg.hostCpus, memoryGb: cfg.hostMemoryGb }];
}

export function budgetItems(cfg: PlatformConfig): BudgetItem[] {
  const ours = PLATFORM_CONTAINERS.map((c) => ({
    name: `${c.component}/${c.key}`, resources: sizeOf(cfg.profile.size, c.key), replicas: c.replicas,
  }));
  // K3s's own pods request from the same allocatable (one replica each, also on multi-node oci).
  const k3s = Object.entries(K3S_PACKAGED).map(([key, resources]) => ({ name: `k3s/${key}`, resources }));
  // Let's Encrypt: while certificates are issued or renewed, one HTTP-01 solver pod per published host.
  const solvers = cfg.tls.issuer === "platform-ca" ? [] : [{ name: "cert-manager/acmeSolver", resources: sizeOf(cfg.profile.size, "acmeSolver"), replicas: ACME_SOLVER_PODS_AT_ONCE }];
  return [...ours, ...solvers, ...backupBudgetItems(cfg), ...k3s];
}

export function planPlatform(cfg: PlatformConfig, ports: PortPlan = DEFAULT_PORTS): Plan {
  checkNodePorts(ports);
  checkUniquePorts({ ...hostPorts(cfg.environment), ...ports }, `${cfg.environment} host and NodePort plan`);
  const nodes = nodesOf(cfg);
  const where = cfg.oci
    ? `${nodes.length} x VM.Standard.A1.Flex (${cfg.oci.ocpus} OCPU / ${cfg.oci.memoryGb} GB each)`
    : `the ${cfg.environment} host (${cfg.hostCpus} CPUs / ${cfg.hostMemoryGb} GB, platform:hostCpus / hostMemoryGb)`;
  const budget = computeBudget(budgetItems(cfg), capacityOf(nodes, where));
  assertBudget(budget, cfg.profile.budget);
  return { nodes, ports, budget };
}
