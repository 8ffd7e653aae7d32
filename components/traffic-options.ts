// Where the nodes, the API server and the NodePort clients are, per environment: the addresses the
// traffic plan's ipBlocks use instead of 0.0.0.0/0 (issue 14 item 4). With K3s's kube-router
// policy controller an ipBlock also matches pod IPs, so none of these may contain the pod range
// without an except (traffic.ts adds it); and kube-router always admits traffic from the pod's own
// node (pod.go "from local node"), so node-local containerd pulls need no rule at all.
import type { Environment } from "./lib/profiles";
import { K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR } from "./cluster/k3s-config";
import { OCI_SUBNET_CIDR, OCI_VCN_CIDR } from "./lib/network";
import type { TrafficOptions } from "./traffic";

/**
 * Docker's default pools for user-defined networks, where k3d's `k3d-<name>` bridge (the node
 * containers, the load balancer, the host's port mappings' source) gets its subnet: 172.17-31.0.0/16
 * as /16s, then 192.168.0.0/16 as /20s (moby libnetwork/ipamutils localScopeDefaultNetworks).
 * A daemon with its own `default-address-pools` elsewhere needs its range here.
 */
export const DOCKER_DEFAULT_POOLS: readonly string[] = ["172.16.0.0/12", "192.168.0.0/16"];
/** RFC 1918: where a homelab host named by DNS can be (its address is not known at plan time). */
export const PRIVATE_RANGES: readonly string[] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
/** Link-local, the cloud metadata service (169.254.169.254) included. */
export const METADATA_CIDR = "169.254.0.0/16";
export const LOOPBACK_CIDR = "127.0.0.0/8";

export interface TrafficInputs {
  readonly environment: Environment;
  /** homelab: platform:hostAddress (an IPv4 address or a DNS name). */
  readonly hostAddress?: string;
  /** oci: @default OCI_VCN_CIDR */
  readonly vcnCidr?: string;
  /** oci: @default OCI_SUBNET_CIDR */
  readonly subnetCidr?: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The plan's address inputs for one environment, from config: never 0.0.0.0/0. */
export function trafficOptions(i: TrafficInputs): Required<Pick<TrafficOptions, "nodeCidrs" | "nodePortSources" | "apiServerCidrs" | "clusterCidr" | "serviceCidr">> {
  const cluster = { clusterCidr: K3S_CLUSTER_CIDR, serviceCidr: K3S_SERVICE_CIDR };
  switch (i.environment) {
    case "oci": {
      // NodePorts from any node of the VCN; the API server is on server-0, in the node subnet.
      const vcn = i.vcnCidr ?? OCI_VCN_CIDR;
      return { ...cluster, nodeCidrs: [vcn], nodePortSources: [vcn], apiServerCidrs: [i.subnetCidr ?? OCI_SUBNET_CIDR] };
    }
    case "homelab": {
      // One node: the host. K3s's node IP is the host's address (privateAddress = hostAddress).
      const nodes = i.hostAddress && IPV4.test(i.hostAddress) ? [`${i.hostAddress}/32`] : [...PRIVATE_RANGES];
      return { ...cluster, nodeCidrs: nodes, nodePortSources: nodes, apiServerCidrs: nodes };
    }
    case "dev":
      // The k3d node containers and the Docker host's port mappings (127.0.0.1:<NodePort>) come
      // from the k3d bridge network.
      return { ...cluster, nodeCidrs: [...DOCKER_DEFAULT_POOLS], nodePortSources: [...DOCKER_DEFAULT_POOLS], apiServerCidrs: [...DOCKER_DEFAULT_POOLS] };
  }
}
