// An existing Ubuntu host reached over SSH (homelab). Nothing is created on it here: the
// preflight only checks that it can carry the platform, and fails with a clear message if not.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { KUBELET_SYSCTLS } from "../cluster/hardening";
import { readScript, scriptWithEnv, RUN_STDIN } from "../lib/scripts";
import { HostNode, SSH_DIAL } from "./node";
import { hostFirewallScript, REMOVE_FIREWALL, RUN_FIREWALL } from "./host-firewall";

export interface BareMetalHostArgs {
  readonly address: string;
  /** @default "ubuntu" */
  readonly user: string;
  /** @default 22 */
  readonly port: number;
  readonly privateKey: pulumi.Input<string>;
  /** The host's SSH host key ("ssh-ed25519 AAAA..."), pinned on every connection (host-keys.ts). */
  readonly hostKey: string;
  readonly cpus: number;
  readonly memoryGb: number;
  /** The least memory the host must report; the budget check sets it. */
  readonly minMemoryMb: number;
  /** @default 20 */
  readonly minDiskGb?: number;
  /** platform:adminCidr: the only source of SSH and the Kubernetes API (host-firewall.ts). */
  readonly adminCidr?: string;
}

/** The kernel parameters the preflight checks, as the install sets them (cluster/hardening.ts). */
export function kubeletSysctlPairs(): string {
  return Object.entries(KUBELET_SYSCTLS).map(([k, v]) => `${k}=${v}`).join(" ");
}

export class BareMetalHost extends pulumi.ComponentResource {
  public readonly nodes: HostNode[];
  public readonly preflight: command.remote.Command;
  public readonly firewall: command.remote.Command;

  constructor(name: string, args: BareMetalHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:host:BareMetalHost", name, {}, opts);
    const connection = {
      host: args.address, user: args.user, port: args.port, privateKey: pulumi.secret(args.privateKey), hostKey: args.hostKey, ...SSH_DIAL,
    };
    this.preflight = new command.remote.Command(`${name}-preflight`, {
      connection,
      create: RUN_STDIN,
      stdin: scriptWithEnv(readScript("host/scripts/preflight.sh"), {
        MIN_MEMORY_MB: String(args.minMemoryMb),
        MIN_DISK_GB: String(args.minDiskGb ?? 20),
        KUBELET_SYSCTLS: kubeletSysctlPairs(),
      }),
      // Re-check when the requirements change.
      triggers: [args.minMemoryMb, args.minDiskGb ?? 20],
    }, { parent: this });
    // Before K3s opens 6443 and the NodePorts; re-applied in place when adminCidr changes.
    this.firewall = new command.remote.Command(`${name}-firewall`, {
      connection,
      create: RUN_FIREWALL, update: RUN_FIREWALL, delete: REMOVE_FIREWALL,
      stdin: hostFirewallScript({ adminCidr: args.adminCidr, sshPort: args.port }),
      addPreviousOutputInEnv: false,
    }, { parent: this, dependsOn: [this.preflight] });
    const address = pulumi.output(args.address);
    this.nodes = [{
      name: "server-0", connection, publicAddress: address, privateAddress: address,
      cpus: args.cpus, memoryGb: args.memoryGb, ready: [this.preflight, this.firewall],
    }];
    this.registerOutputs({ address });
  }
}
