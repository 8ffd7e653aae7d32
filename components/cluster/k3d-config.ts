// Pure builder for the dev cluster's k3d config file (k3d.io/v1alpha5, kind: Simple).
import { k3sImage } from "../lib/versions";
import { admissionConfiguration, auditPolicy, HARDENING_PATHS, hardenedApiServerArgs, hardenedControllerManagerArgs, hardenedKubeletArgs } from "./hardening";
import { stableYaml } from "./k3s-config";

/**
 * What of the CIS hardening (cluster/hardening.ts) k3d can carry: the same admission configuration and
 * audit policy, written into the server node container by k3d (`files`, embedded), and the same API
 * server, controller-manager and kubelet flags. Not protect-kernel-defaults: the kubelet in a node
 * container reads the Docker host's kernel parameters, which the stack does not own.
 */
export function k3dHardening(): { files: Record<string, unknown>[]; extraArgs: { arg: string; nodeFilters: string[] }[] } {
  const servers = ["server:*"];
  return {
    files: [
      { description: "Pod Security and EventRateLimit admission (CIS)", source: stableYaml(admissionConfiguration()), destination: HARDENING_PATHS.admission, nodeFilters: servers },
      { description: "API server audit policy (CIS)", source: stableYaml(auditPolicy()), destination: HARDENING_PATHS.auditPolicy, nodeFilters: servers },
    ],
    extraArgs: [
      ...hardenedApiServerArgs().map((a) => ({ arg: `--kube-apiserver-arg=${a}`, nodeFilters: servers })),
      ...hardenedControllerManagerArgs().map((a) => ({ arg: `--kube-controller-manager-arg=${a}`, nodeFilters: servers })),
      ...hardenedKubeletArgs().map((a) => ({ arg: `--kubelet-arg=${a}`, nodeFilters: ["server:*", "agent:*"] })),
    ],
  };
}

export interface K3dConfigArgs {
  readonly name: string;
  /** Host ports for the ingress load balancer (gateway 80/443 inside). */
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Kubernetes API on 127.0.0.1:<apiPort>. */
  readonly apiPort: number;
  /** NodePorts published on the host too (Gitea for the runner via host.k3d.internal, registry for pushes). */
  readonly nodePorts: readonly number[];
  /** registries.yaml content, the same mirror K3s gets on oci/homelab (PM-04). Absent: no `registries` key. */
  readonly registriesYaml?: string;
  /** @default 0 */
  readonly agents?: number;
}

/**
 * Every port k3d publishes is bound to loopback: without a host IP Docker binds 0.0.0.0 and the dev
 * gateway (and the UIs behind it) is reachable from the LAN. k3d's port format is
 * [HOST:][HOSTPORT:]CONTAINERPORT (k3d.io, `k3d cluster edit --port-add`).
 */
export const K3D_HOST_IP = "127.0.0.1";

export function k3dConfig(args: K3dConfigArgs): Record<string, unknown> {
  const hardening = k3dHardening();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(args.name)) throw new Error(`k3dConfig: invalid cluster name "${args.name}"`);
  return {
    apiVersion: "k3d.io/v1alpha5",
    kind: "Simple",
    metadata: { name: args.name },
    servers: 1,
    agents: args.agents ?? 0,
    image: k3sImage(),
    kubeAPI: { host: K3D_HOST_IP, hostIP: K3D_HOST_IP, hostPort: String(args.apiPort) },
    ports: [
      { port: `${K3D_HOST_IP}:${args.httpPort}:80`, nodeFilters: ["loadbalancer"] },
      { port: `${K3D_HOST_IP}:${args.httpsPort}:443`, nodeFilters: ["loadbalancer"] },
      ...args.nodePorts.map((p) => ({ port: `${K3D_HOST_IP}:${p}:${p}`, nodeFilters: ["server:0"] })),
    ],
    ...(args.registriesYaml !== undefined ? { registries: { config: args.registriesYaml } } : {}),
    files: hardening.files,
    options: {
      k3s: {
        extraArgs: [
          // Istio's gateway is the ingress (same as K3s on oci/homelab).
          { arg: "--disable=traefik", nodeFilters: ["server:*"] },
          { arg: "--secrets-encryption", nodeFilters: ["server:*"] },
          ...hardening.extraArgs,
        ],
      },
      kubeconfig: { updateDefaultKubeconfig: false, switchCurrentContext: false },
    },
  };
}
