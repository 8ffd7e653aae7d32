// Environment profiles: the only place where oci, homelab and dev differ by default.
// Components take typed args; environment differences reach them through these values
// and through the overlays named here (pure functions, see overlays.ts).
import type { SizeClass } from "./sizes";

export type Environment = "oci" | "homelab" | "dev";
export const ENVIRONMENTS: readonly Environment[] = ["oci", "homelab", "dev"];

export type HostKind = "oci" | "bare-metal" | "docker";
export type ClusterKind = "k3s" | "k3d";
export type OverlayName = "drop-pvc-pod-security-context" | "readiness-health-path";

export interface Profile {
  readonly host: HostKind;
  readonly cluster: ClusterKind;
  /** Host capacity used by the budget when the config does not say (dev: the developer's Docker). */
  readonly defaultHostCpus: number;
  readonly defaultHostMemoryGb: number;
  /** Default UI domain; undefined means the key is required. */
  readonly defaultDomain?: string;
  /** HTTP and HTTPS ports of the ingress gateway as users reach them. */
  readonly ingressHttpPort: number;
  readonly ingressHttpsPort: number;
  /** Kubernetes API port on the host (dev: k3d's, on 127.0.0.1, away from a local 6443). */
  readonly kubeApiPort: number;
  /** Pure overlays applied to every object we build (PM-21, PM-22). */
  readonly overlays: readonly OverlayName[];
  /** Prometheus retention; small hosts keep less. */
  readonly prometheusRetention: string;
  /** PM-07: how much of the host the platform may take. */
  readonly budget: { readonly minFreeMemoryRatio: number; readonly maxRequestsMi?: number };
  /** Which column of sizes.ts every container takes. */
  readonly size: SizeClass;
}

export const PROFILES: Record<Environment, Profile> = {
  oci: {
    host: "oci",
    cluster: "k3s",
    defaultHostCpus: 4,
    defaultHostMemoryGb: 24,
    ingressHttpPort: 80,
    ingressHttpsPort: 443,
    kubeApiPort: 6443,
    overlays: [],
    prometheusRetention: "7d",
    budget: { minFreeMemoryRatio: 0.4 },
    size: "standard",
  },
  homelab: {
    host: "bare-metal",
    cluster: "k3s",
    defaultHostCpus: 4,
    // The 15 GB host from the post-mortems (PM-07).
    defaultHostMemoryGb: 15,
    ingressHttpPort: 80,
    ingressHttpsPort: 443,
    kubeApiPort: 6443,
    overlays: [],
    prometheusRetention: "7d",
    budget: { minFreeMemoryRatio: 0.4 },
    size: "standard",
  },
  dev: {
    host: "docker",
    cluster: "k3d",
    // A laptop's Docker Desktop default share; override with platform:hostCpus / hostMemoryGb.
    defaultHostCpus: 4,
    defaultHostMemoryGb: 8,
    // *.localhost resolves to loopback without DNS (RFC 6761).
    defaultDomain: "platform.localhost",
    ingressHttpPort: 8080,
    ingressHttpsPort: 8443,
    kubeApiPort: 6445,
    overlays: ["drop-pvc-pod-security-context", "readiness-health-path"],
    prometheusRetention: "1d",
    budget: { minFreeMemoryRatio: 0, maxRequestsMi: 4096 },
    size: "small",
  },
};
