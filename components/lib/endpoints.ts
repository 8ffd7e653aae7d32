// One place computes every address and port the platform uses, per environment (PM-08, PM-40).
// Every consumer (K3s registries.yaml, k3d config, runner config, Argo CD repo secret, image
// names, workflow templates, Istio routes) reads it from here.
import * as pulumi from "@pulumi/pulumi";
import { Environment, PROFILES } from "./profiles";

/** Fixed NodePorts: deterministic, so previews never shuffle them and firewalls can name them. */
export interface PortPlan {
  readonly giteaHttp: number;
  readonly giteaSsh: number;
  readonly registry: number;
  readonly gatewayHttp: number;
  readonly gatewayHttps: number;
}

export const DEFAULT_PORTS: PortPlan = {
  giteaHttp: 30300,
  giteaSsh: 30022,
  registry: 30500,
  gatewayHttp: 30080,
  gatewayHttps: 30443,
};

/** Ports bound on the host itself (ingress through K3s servicelb / k3d's load balancer, SSH, API). */
export function hostPorts(env: Environment): Record<string, number> {
  const p = PROFILES[env];
  const base: Record<string, number> = { ingressHttp: p.ingressHttpPort, ingressHttps: p.ingressHttpsPort, kubeApi: p.kubeApiPort };
  // SSH is ours to plan only where we reach a host over it.
  if (p.cluster === "k3s") base.ssh = 22;
  return base;
}

/** Throws when two entries share a port: the EADDRINUSE of PM-08, caught at preview. */
export function checkUniquePorts(plan: Record<string, number>, what = "port plan"): void {
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(plan)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what}: ${name} has invalid port ${port}`);
    const other = seen.get(port);
    if (other !== undefined) throw new Error(`${what}: ${name} and ${other} both use port ${port} (PM-08)`);
    seen.set(port, name);
  }
}

export function checkNodePorts(plan: PortPlan): void {
  checkUniquePorts({ ...plan }, "NodePort plan");
  for (const [name, port] of Object.entries(plan)) {
    if (port < 30000 || port > 32767) throw new Error(`NodePort plan: ${name}=${port} is outside the NodePort range 30000-32767`);
  }
}

/** The names the gateway publishes, as `<name>.<domain>` (Prometheus is not one, issue 13). */
export const PUBLIC_HOSTS = ["git", "argocd", "kiali", "app"] as const;
export type PublicHost = (typeof PUBLIC_HOSTS)[number];

/** Prometheus is not published on the gateway (issue 13): users reach it through a port-forward. */
export const PROMETHEUS_LOCAL = {
  portForward: "kubectl -n monitoring port-forward svc/prometheus-server 9090:80",
  localUrl: "http://127.0.0.1:9090",
} as const;

export interface EndpointsArgs {
  readonly environment: Environment;
  readonly domain: string;
  /** Address job containers and nodes use to reach NodePorts (oci: private IP, homelab: host address). */
  readonly nodeAddress: pulumi.Input<string>;
  readonly ports?: PortPlan;
}

export interface ServiceEndpoint {
  readonly namespace: string;
  readonly service: string;
  readonly port: number;
  /** In-cluster DNS name, e.g. gitea-http.gitea.svc.cluster.local. */
  readonly fqdn: string;
  readonly internalUrl: string;
}

export interface Endpoints {
  readonly environment: Environment;
  readonly domain: string;
  readonly ports: PortPlan;
  readonly hostPorts: Record<string, number>;
  readonly hostnames: Readonly<Record<PublicHost, string>>;
  readonly gitea: ServiceEndpoint & {
    /** What browsers use, through the Istio gateway. */
    readonly publicUrl: string;
    /** What act_runner registers with and job containers check out from (PM-24): the NodePort on the node. */
    readonly runnerUrl: pulumi.Output<string>;
  };
  readonly registry: ServiceEndpoint & {
    /** The one name images are referenced by; every node's containerd maps it to `nodeMirror` (PM-04, PM-15). */
    readonly host: string;
    /** Where node containerd actually pulls from: the registry NodePort on the node itself. */
    readonly nodeMirror: string;
    /**
     * The read-write instance CI pushes to (#14.1): its own ClusterIP Service on `port`, which
     * the runner maps the registry name to; its container listens on `pushPort`. The NodePort
     * Service (`service`) serves the read-only instance nodes pull from.
     */
    readonly pushService: string;
    readonly pushPort: number;
  };
  /** argocd-server (argo-cd chart, release "argocd"): the gateway routes the UI there. */
  readonly argocd: ServiceEndpoint & { readonly publicUrl: string };
  /** kiali (kiali-server chart, instance "kiali"). */
  readonly kiali: ServiceEndpoint & { readonly publicUrl: string };
  /** Not published on the gateway (issue 13): users reach it with `portForward`, on `localUrl`. */
  readonly prometheus: ServiceEndpoint & { readonly targetPort: number; readonly portForward: string; readonly localUrl: string };
  /** The sample app through the gateway. */
  readonly app: { readonly publicUrl: string };
  readonly rollouts: { readonly namespace: string };
}

function svc(namespace: string, service: string, port: number): ServiceEndpoint {
  const fqdn = `${service}.${namespace}.svc.cluster.local`;
  return { namespace, service, port, fqdn, internalUrl: `http://${fqdn}:${port}` };
}

/** Browsers reach every UI over HTTPS (components/tls); plain HTTP only redirects there. */
export const PUBLIC_SCHEME = "https";

/** The one way a public URL is built: scheme, host and the environment's HTTPS port (443 is left out). */
export function publicUrl(environment: Environment, host: string): string {
  const port = PROFILES[environment].ingressHttpsPort;
  return `${PUBLIC_SCHEME}://${host}${port === 443 ? "" : `:${port}`}`;
}

/** The image registry name; `.internal` is reserved for private use (ICANN, 2024), so it never leaks to public DNS. */
export const REGISTRY_NAME = "registry.platform.internal";

export function endpoints(args: EndpointsArgs): Endpoints {
  const ports = args.ports ?? DEFAULT_PORTS;
  checkNodePorts(ports);
  const hp = hostPorts(args.environment);
  checkUniquePorts({ ...hp, ...ports }, "host and NodePort plan");
  const url = (host: string) => publicUrl(args.environment, host);
  const hostnames = Object.fromEntries(PUBLIC_HOSTS.map((h) => [h, `${h}.${args.domain}`])) as Record<PublicHost, string>;
  const registry = svc("registry", "registry", 5000);
  return {
    environment: args.environment,
    domain: args.domain,
    ports,
    hostPorts: hp,
    hostnames,
    gitea: {
      ...svc("gitea", "gitea-http", 3000),
      publicUrl: url(hostnames.git),
      runnerUrl: pulumi.interpolate`http://${args.nodeAddress}:${ports.giteaHttp}`,
    },
    registry: {
      ...registry, host: `${REGISTRY_NAME}:${registry.port}`, nodeMirror: `http://127.0.0.1:${ports.registry}`,
      // 5001 is the registry image's debug listener (http.debug.addr), in the same pod network.
      pushService: "registry-push", pushPort: 5002,
    },
    argocd: { ...svc("argocd", "argocd-server", 80), publicUrl: url(hostnames.argocd) },
    kiali: { ...svc("istio-system", "kiali", 20001), publicUrl: url(hostnames.kiali) },
    prometheus: {
      ...svc("monitoring", "prometheus-server", 80), targetPort: 9090,
      ...PROMETHEUS_LOCAL,
    },
    app: { publicUrl: url(hostnames.app) },
    rollouts: { namespace: "argo-rollouts" },
  };
}

/** True when a reference points at the machine it is used on: never valid in a pod or image name (PM-14, PM-15). */
export function isLoopbackReference(ref: string): boolean {
  return /(^|[/@:.]|\/\/)(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?)([:/]|$)/i.test(ref) || /^(localhost|127\.|::1)/i.test(ref);
}

/** The registry's pull-only user (nodes, pull secrets): the read-only instance knows only it (#14.1). */
export const REGISTRY_USER = "platform";
/** CI's push user: only the read-write instance knows it. */
export const REGISTRY_PUSH_USER = "ci";
