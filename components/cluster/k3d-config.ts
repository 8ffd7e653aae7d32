// Pure builder for the dev cluster's k3d config file (k3d.io/v1alpha5, kind: Simple).
import { k3sImage } from "../lib/versions";

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

export function k3dConfig(args: K3dConfigArgs): Record<string, unknown> {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(args.name)) throw new Error(`k3dConfig: invalid cluster name "${args.name}"`);
  return {
    apiVersion: "k3d.io/v1alpha5",
    kind: "Simple",
    metadata: { name: args.name },
    servers: 1,
    agents: args.agents ?? 0,
    image: k3sImage(),
    kubeAPI: { host: "127.0.0.1", hostIP: "127.0.0.1", hostPort: String(args.apiPort) },
    ports: [
      { port: `${args.httpPort}:80`, nodeFilters: ["loadbalancer"] },
      { port: `${args.httpsPort}:443`, nodeFilters: ["loadbalancer"] },
      ...args.nodePorts.map((p) => ({ port: `127.0.0.1:${p}:${p}`, nodeFilters: ["server:0"] })),
    ],
    ...(args.registriesYaml !== undefined ? { registries: { config: args.registriesYaml } } : {}),
    options: {
      k3s: {
        extraArgs: [
          // Istio's gateway is the ingress (same as K3s on oci/homelab).
          { arg: "--disable=traefik", nodeFilters: ["server:*"] },
          { arg: "--secrets-encryption", nodeFilters: ["server:*"] },
        ],
      },
      kubeconfig: { updateDefaultKubeconfig: false, switchCurrentContext: false },
    },
  };
}
