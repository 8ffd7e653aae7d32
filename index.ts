// The program: read and validate config, plan (budget, ports), then build the platform.
// Nothing is registered until config and plan have both passed.
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { planPlatform } from "./components/plan";
import { Platform } from "./components/platform";
import { REGISTRY_USER } from "./components/lib/endpoints";

const config = loadConfig();
const plan = planPlatform(config);
const platform = new Platform("platform", { config, plan });
const ep = platform.endpoints;

export const environment = config.environment;
export const apiServer = platform.apiServer;
/** Admin kubeconfig: `pulumi stack output kubeconfig --show-secrets > kubeconfig`. */
export const kubeconfig = pulumi.secret(platform.kubeconfig);
export const nodeAddresses = platform.nodeAddresses;
/** The nodes' pinned SSH host keys, as known_hosts lines: `pulumi stack output sshHostKeys --json | jq -r '.[]' >> ~/.ssh/known_hosts`. */
export const sshHostKeys = platform.sshHostKeys;
export const urls = {
  gitea: ep.gitea.publicUrl,
  argocd: ep.argocd.publicUrl,
  kiali: ep.kiali.publicUrl,
  /** Not published: after `kubectl -n monitoring port-forward svc/prometheus-server 9090:80`. */
  prometheus: ep.prometheus.localUrl,
  app: `http://${ep.hostnames.app}${ep.hostPorts.ingressHttp === 80 ? "" : `:${ep.hostPorts.ingressHttp}`}`,
  giteaNodePort: ep.gitea.runnerUrl,
  registry: ep.registry.host,
};
/** Every generated or configured credential, as one secret object. */
export const credentials = pulumi.secret({
  giteaAdmin: { username: platform.giteaAdminUser, password: platform.secrets.giteaAdminPassword },
  argocdAdmin: { username: "admin", password: platform.secrets.argocdAdminPassword },
  argocdGuest: { username: "guest", password: platform.secrets.guestPassword },
  registry: { username: REGISTRY_USER, password: platform.secrets.registryPassword },
});
/** Only set when the stack generated the OCI nodes' SSH key. */
export const sshPrivateKey = platform.sshPrivateKey ? pulumi.secret(platform.sshPrivateKey) : undefined;
export const budget = {
  capacity: plan.budget.capacity,
  requests: plan.budget.requests,
  limits: plan.budget.limits,
  freeMemoryPercent: Math.round(plan.budget.freeMemoryRatio * 100),
};
export const nextSteps = [
  "pulumi stack output kubeconfig --show-secrets > kubeconfig && export KUBECONFIG=$PWD/kubeconfig",
  "kubectl get nodes && kubectl -n argocd get applications",
  "pulumi stack output credentials --show-secrets",
  `Prometheus (not published): ${ep.prometheus.portForward}, then ${ep.prometheus.localUrl}`,
  "kubectl argo rollouts get rollout sample-api -n sample-app --watch",
];
