// cloud-init for OCI nodes: fix Oracle's iptables REJECT rules before K3s, persist them.
import * as pulumi from "@pulumi/pulumi";
import { K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR, stableYaml } from "../cluster/k3s-config";
import { readScript, scriptWithEnv } from "../lib/scripts";
import { hostKeyCloudConfig } from "./host-keys";

export interface CloudInitArgs {
  readonly vcnCidr: string;
  readonly podCidr?: string;
  readonly serviceCidr?: string;
  /** The node's SSH host key (a stack-owned tls.PrivateKey, OpenSSH format): the only one sshd offers (host-keys.ts). */
  readonly hostKey?: { readonly privateKeyOpenssh: string; readonly publicKeyOpenssh: string };
}

/** Ports opened in the host firewall; the VCN security list narrows who may reach them. */
export const FIREWALL_TCP_PORTS = [80, 443, 6443, 10250] as const;
export const FIREWALL_UDP_PORTS = [8472, 51820, 51821] as const;

export const OCI_FIREWALL_SCRIPT = "host/scripts/oci-firewall.sh";

/** oci-firewall.sh's inputs: the one place both cloud-init's runcmd and the node's firewall command read. */
export function ociFirewallEnv(args: Pick<CloudInitArgs, "vcnCidr" | "podCidr" | "serviceCidr">): Record<string, string> {
  return {
    POD_CIDR: args.podCidr ?? K3S_CLUSTER_CIDR,
    SERVICE_CIDR: args.serviceCidr ?? K3S_SERVICE_CIDR,
    VCN_CIDR: args.vcnCidr,
    TCP_PORTS: FIREWALL_TCP_PORTS.join(" "),
    UDP_PORTS: FIREWALL_UDP_PORTS.join(" "),
  };
}

/**
 * stdin for the root remote Command that applies oci-firewall.sh on a running node (#13.3): cloud-init
 * runs it once per instance and user_data is ignored after launch, so this is what carries a change
 * of the script or its inputs to every node. Same text, same inputs: a second `up` sends the same stdin.
 */
export function ociFirewallScript(args: Pick<CloudInitArgs, "vcnCidr" | "podCidr" | "serviceCidr">): pulumi.Output<string> {
  return scriptWithEnv(readScript(OCI_FIREWALL_SCRIPT), ociFirewallEnv(args));
}

export function cloudInit(args: CloudInitArgs): string {
  const env = Object.entries(ociFirewallEnv(args)).map(([k, v]) => (v.includes(" ") ? `${k}="${v}"` : `${k}=${v}`)).join(" ");
  const doc = {
    package_update: true,
    packages: ["iptables-persistent", "curl"],
    write_files: [
      { path: "/usr/local/sbin/oci-firewall.sh", permissions: "0755", content: readScript(OCI_FIREWALL_SCRIPT) },
    ],
    runcmd: [`env ${env} /usr/local/sbin/oci-firewall.sh`],
    ...(args.hostKey ? hostKeyCloudConfig(args.hostKey.privateKeyOpenssh, args.hostKey.publicKeyOpenssh) : {}),
  };
  return `#cloud-config\n${stableYaml(doc)}`;
}
