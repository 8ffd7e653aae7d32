// The program: read and validate config, plan (budget, ports), check what only the cloud can
// answer (invokes), then build the platform. Nothing is registered until all three have passed.
import * as pulumi from "@pulumi/pulumi";
import { PROMETHEUS_LOCAL } from "./components/lib/endpoints";
import { loadConfig } from "./config";
import { planPlatform } from "./components/plan";
import { resolveInputs } from "./components/inputs";
import { Platform } from "./components/platform";
import { REGISTRY_USER } from "./components/lib/endpoints";

const config = loadConfig();
const plan = planPlatform(config);
const built = resolveInputs(config).then((inputs) => new Platform("platform", { config, plan, inputs }));
/** A stack output read from the platform once it is built (a failed check rejects every one). */
const from = <T>(read: (platform: Platform) => T) => pulumi.output(built.then(read));

export const environment = config.environment;
export const apiServer = from((p) => p.apiServer);
/** Admin kubeconfig: `pulumi stack output kubeconfig --show-secrets > kubeconfig`. */
export const kubeconfig = pulumi.secret(from((p) => p.kubeconfig));
export const nodeAddresses = from((p) => p.nodeAddresses);
/** The nodes' pinned SSH host keys, as known_hosts lines: `pulumi stack output sshHostKeys --json | jq -r '.[]' >> ~/.ssh/known_hosts`. */
export const sshHostKeys = from((p) => p.sshHostKeys);
export const urls = from(({ endpoints: ep }) => ({
  gitea: ep.gitea.publicUrl,
  argocd: ep.argocd.publicUrl,
  kiali: ep.kiali.publicUrl,
  /** Not published: after `kubectl -n monitoring port-forward svc/prometheus-server 9090:80`. */
  prometheus: ep.prometheus.localUrl,
  app: ep.app.publicUrl,
  giteaNodePort: ep.gitea.runnerUrl,
  registry: ep.registry.host,
}));
/** Every generated or configured credential, as one secret object. */
export const credentials = pulumi.secret(from((platform) => ({
  giteaAdmin: { username: platform.giteaAdminUser, password: platform.secrets.giteaAdminPassword },
  argocdAdmin: { username: "admin", password: platform.secrets.argocdAdminPassword },
  argocdGuest: { username: "guest", password: platform.secrets.guestPassword },
  registry: { username: REGISTRY_USER, password: platform.secrets.registryPassword },
})));
/** The platform CA (PEM; a public certificate, not a secret) where it signs the UIs: README "TLS" says how to trust it. */
export const platformCaCertificate = from((p) => p.platformCaCertificate);
/** Only set when the stack generated the OCI nodes' SSH key. */
export const sshPrivateKey = from((p) => (p.sshPrivateKey ? pulumi.secret(p.sshPrivateKey) : undefined));
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
  `Prometheus (not published): ${PROMETHEUS_LOCAL.portForward}, then ${PROMETHEUS_LOCAL.localUrl}`,
  "kubectl argo rollouts get rollout sample-api -n sample-app --watch",
];
