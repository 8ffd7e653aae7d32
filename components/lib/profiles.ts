// Environment profiles: the only place where oci, homelab and dev differ by default.
// Components take typed args; environment differences reach them through these values
// and through the overlays named here (pure functions, see overlays.ts).
import type { BudgetRules } from "./budget";
import type { SizeClass } from "./sizes";

export type Environment = "oci" | "homelab" | "dev";
export const ENVIRONMENTS: readonly Environment[] = ["oci", "homelab", "dev"];

export type HostKind = "oci" | "bare-metal" | "docker";
export type ClusterKind = "k3s" | "k3d";
export type OverlayName = "drop-pvc-pod-security-context" | "readiness-health-path";

export interface Profile {
  readonly host: HostKind;
  readonly cluster: ClusterKind;
  /** Host capacity used by the budget when the config does not say (dev: the developer's Docker; oci: the default shape of each node, platform:ocpus / memoryGb). */
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
  readonly budget: BudgetRules;
  /** Which column of sizes.ts every container takes. */
  readonly size: SizeClass;
}

export const PROFILES: Record<Environment, Profile> = {
  oci: {
    host: "oci",
    cluster: "k3s",
    // The default node: the whole Always Free allowance (config.ts ALWAYS_FREE, 2 OCPU / 12 GB since
    // 2026-06-15) as ONE A1 node rather than two of 1/6. After the kubelet reservations of
    // k3s-config.ts, 1 x 2/12 leaves 1800m / 9600Mi for pods, 2 x 1/6 only 2 x 800m / 2 x 4416Mi
    // (1600m / 8832Mi): each node pays its own reservation floor (100m + 100m, >= 256Mi each), its own
    // OS and K3s agent (~275 MB, docs.k3s.io "Resource Profiling"). That page measures a K3s server
    // with a workload at ~1.6 GB: a 1/6 server reserves 1536Mi for it AND the OS, a 2/12 one 2304Mi.
    // Two nodes also need flannel's VXLAN (8472/udp) between them, pin local-path volumes to one node,
    // cap the largest pod at 800m, and take two 50 GB boot volumes of the 200 GB.
    defaultHostCpus: 2,
    defaultHostMemoryGb: 12,
    ingressHttpPort: 80,
    ingressHttpsPort: 443,
    kubeApiPort: 6443,
    overlays: [],
    prometheusRetention: "7d",
    // Half of the node's CPU and half of its memory stay for applications (issue 11).
    budget: { minFreeMemoryRatio: 0.4, maxRequestsShare: 0.5 },
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
