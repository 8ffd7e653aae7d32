// The homelab host's firewall (#13.3): platform:adminCidr applied, not just documented. A remote
// Command runs scripts/host-firewall.sh before K3s; README "Host firewall (homelab)" says what it allows.
import * as pulumi from "@pulumi/pulumi";
import { readScript, scriptWithEnv } from "../lib/scripts";
import { K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR } from "../cluster/k3s-config";

export interface HostFirewallArgs {
  /** platform:adminCidr; absent: SSH and the API are not restricted (NodePorts still are). */
  readonly adminCidr?: string;
  readonly sshPort: number;
  /** @default 6443 */
  readonly apiPort?: number;
  readonly podCidr?: string;
  readonly serviceCidr?: string;
}

const SCRIPT = "host/scripts/host-firewall.sh";

export function hostFirewallScript(args: HostFirewallArgs): pulumi.Output<string> {
  return scriptWithEnv(readScript(SCRIPT), {
    ADMIN_CIDR: args.adminCidr ?? "",
    SSH_PORT: String(args.sshPort),
    API_PORT: String(args.apiPort ?? 6443),
    POD_CIDR: args.podCidr ?? K3S_CLUSTER_CIDR,
    SERVICE_CIDR: args.serviceCidr ?? K3S_SERVICE_CIDR,
    FIREWALL_SCRIPT: readScript(SCRIPT),
  });
}

// As RUN_STDIN_AS_ROOT, with the SSH client's address (sudo drops $SSH_CLIENT): the script refuses
// an adminCidr that would lock this very connection out.
export const RUN_FIREWALL = 'f="$(mktemp)" && cat > "$f" && sudo -n env SSH_CLIENT_ADDR="${SSH_CLIENT%% *}" bash "$f"; rc=$?; rm -f "$f"; exit $rc';
export const REMOVE_FIREWALL = 'f="$(mktemp)" && cat > "$f" && sudo -n env ACTION=remove bash "$f"; rc=$?; rm -f "$f"; exit $rc';
