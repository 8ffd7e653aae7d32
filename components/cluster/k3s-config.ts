// Pure builders for the files K3s reads: /etc/rancher/k3s/config.yaml and registries.yaml.
import * as YAML from "yaml";
import { hardenedApiServerArgs, hardenedControllerManagerArgs, hardenedKubeletArgs } from "./hardening";

/**
 * The pod and Service ranges: K3s's defaults (--cluster-cidr, --service-cidr; docs.k3s.io
 * cli/server "Networking"), which neither our K3s config nor k3d's sets. The traffic plan keeps
 * internet egress out of them (traffic-options.ts).
 */
export const K3S_CLUSTER_CIDR = "10.42.0.0/16";
export const K3S_SERVICE_CIDR = "10.43.0.0/16";

/** Sorted keys and no timestamps: the same input always yields the same bytes (no preview churn). */
export function stableYaml(value: unknown): string {
  return YAML.stringify(value, { sortMapEntries: true, lineWidth: 0 });
}

export interface Reservations {
  readonly systemReserved: { cpuMillis: number; memoryMi: number };
  readonly kubeReserved: { cpuMillis: number; memoryMi: number };
  /** Hard eviction threshold on available memory. */
  readonly evictionHardMi: number;
  readonly evictionSoftMi: number;
}

/**
 * Kubelet reservations sized for the host (PM-18), after the tiered formula GKE and AKS document:
 * memory 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112;
 * CPU 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above.
 * Half goes to kube-reserved, half to system-reserved (the OS, sshd, containerd).
 */
export function kubeletReservations(cpus: number, memoryGb: number): Reservations {
  if (cpus <= 0 || memoryGb <= 0) throw new Error(`kubeletReservations: cpus and memoryGb must be positive, got ${cpus} / ${memoryGb}`);
  const memMi = memoryGb * 1024;
  const tiers: [number, number][] = [[4096, 0.25], [4096, 0.2], [8192, 0.1], [114688, 0.06]];
  let rest = memMi;
  let reservedMem = 0;
  for (const [size, rate] of tiers) {
    const part = Math.min(rest, size);
    reservedMem += part * rate;
    rest -= part;
  }
  const cpuTiers: [number, number][] = [[1000, 0.06], [1000, 0.01], [2000, 0.005], [Number.MAX_SAFE_INTEGER, 0.0025]];
  let cpuRest = cpus * 1000;
  let reservedCpu = 0;
  for (const [size, rate] of cpuTiers) {
    const part = Math.min(cpuRest, size);
    reservedCpu += part * rate;
    cpuRest -= part;
  }
  // K3s runs the control plane inside the same process as the kubelet: reserve at least 100m / 256Mi each.
  const halfCpu = Math.max(100, Math.ceil(reservedCpu / 2 / 10) * 10);
  const halfMem = Math.max(256, Math.ceil(reservedMem / 2 / 64) * 64);
  const evictionHardMi = Math.max(100, Math.ceil((memMi * 0.03) / 64) * 64);
  return {
    systemReserved: { cpuMillis: halfCpu, memoryMi: halfMem },
    kubeReserved: { cpuMillis: halfCpu, memoryMi: halfMem },
    evictionHardMi,
    evictionSoftMi: evictionHardMi * 2,
  };
}

/** CPU and memory left for pods after the reservations and the hard eviction threshold. */
export function allocatable(cpus: number, memoryGb: number): { cpuMillis: number; memoryMi: number } {
  const r = kubeletReservations(cpus, memoryGb);
  return {
    cpuMillis: cpus * 1000 - r.systemReserved.cpuMillis - r.kubeReserved.cpuMillis,
    memoryMi: memoryGb * 1024 - r.systemReserved.memoryMi - r.kubeReserved.memoryMi - r.evictionHardMi,
  };
}

export function kubeletArgs(r: Reservations): string[] {
  return [
    ...hardenedKubeletArgs(),
    `system-reserved=cpu=${r.systemReserved.cpuMillis}m,memory=${r.systemReserved.memoryMi}Mi`,
    `kube-reserved=cpu=${r.kubeReserved.cpuMillis}m,memory=${r.kubeReserved.memoryMi}Mi`,
    `eviction-hard=memory.available<${r.evictionHardMi}Mi,nodefs.available<10%,imagefs.available<10%`,
    `eviction-soft=memory.available<${r.evictionSoftMi}Mi`,
    "eviction-soft-grace-period=memory.available=1m30s",
    "eviction-max-pod-grace-period=60",
  ];
}

export interface K3sServerConfigArgs {
  /** Addresses the API certificate must cover (public IP, host address, DNS name). */
  readonly tlsSans: readonly string[];
  readonly nodeCpus: number;
  readonly nodeMemoryGb: number;
  /** Extra node labels, e.g. topology. */
  readonly nodeLabels?: readonly string[];
}

/**
 * Where local-path puts volume data (Gitea's repositories, the registry's images, the database):
 * outside K3s's data dir (/var/lib/rancher/k3s), which k3s-uninstall.sh deletes, so a destroy or a
 * reinstall leaves it on the host's disk (K3s flag --default-local-storage-path, pkg/cli/cmds/server.go).
 */
export const LOCAL_STORAGE_PATH = "/var/lib/platform/volumes";

/** /etc/rancher/k3s/config.yaml for a server (keys are the flag names; repeatable flags are lists). */
export function k3sServerConfig(args: K3sServerConfigArgs): Record<string, unknown> {
  if (args.tlsSans.length === 0) throw new Error("k3sServerConfig: tlsSans must name at least one reachable address");
  return {
    "write-kubeconfig-mode": "0600",
    "tls-san": [...args.tlsSans],
    // Secrets at rest encrypted (K3s CIS hardening guide).
    "secrets-encryption": true,
    // CIS 4.2.6: the kubelet exits unless the kernel parameters are as it expects; the install sets
    // them first (hardening.ts KUBELET_SYSCTLS).
    "protect-kernel-defaults": true,
    "kube-apiserver-arg": hardenedApiServerArgs(),
    "kube-controller-manager-arg": hardenedControllerManagerArgs(),
    // Istio's ingress gateway is the ingress; traefik would fight it for 80/443.
    disable: ["traefik"],
    "kubelet-arg": kubeletArgs(kubeletReservations(args.nodeCpus, args.nodeMemoryGb)),
    "node-label": [...(args.nodeLabels ?? [])],
    "default-local-storage-path": LOCAL_STORAGE_PATH,
  };
}

/** config.yaml for an agent; the server URL and token come from the environment (K3S_URL, K3S_TOKEN). */
export function k3sAgentConfig(nodeCpus: number, nodeMemoryGb: number): Record<string, unknown> {
  return { "protect-kernel-defaults": true, "kubelet-arg": kubeletArgs(kubeletReservations(nodeCpus, nodeMemoryGb)) };
}

export interface RegistryMirrorArgs {
  /** The name images are referenced by, e.g. registry.platform.internal:5000. */
  readonly host: string;
  /** Where node containerd pulls from; containerd cannot resolve *.svc.cluster.local (k3s-io/k3s#1581). */
  readonly endpoint: string;
  readonly username: string;
  readonly password: string;
}

/** registries.yaml (docs.k3s.io/installation/private-registry): a mirror with auth for the platform registry (PM-04, PM-13). */
export function registriesYaml(args: RegistryMirrorArgs): Record<string, unknown> {
  if (!/^https?:\/\//.test(args.endpoint)) throw new Error(`registriesYaml: endpoint must start with http:// or https://, got ${args.endpoint}`);
  const endpointHost = args.endpoint.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return {
    mirrors: { [args.host]: { endpoint: [args.endpoint] } },
    configs: {
      // Credentials are keyed by the host containerd actually talks to.
      [endpointHost]: { auth: { username: args.username, password: args.password } },
    },
  };
}
