// An existing Ubuntu host reached over SSH (homelab). Nothing is created on it here: the
// preflight only checks that it can carry the platform, and fails with a clear message if not.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { KUBELET_SYSCTLS } from "../cluster/hardening";
import { readScript, scriptWithEnv, RUN_STDIN } from "../lib/scripts";
import { HostNode, SSH_DIAL } from "./node";

export interface BareMetalHostArgs {
  readonly address: string;
  /** @default "ubuntu" */
  readonly user: string;
  /** @default 22 */
  readonly port: number;
  readonly privateKey: pulumi.Input<string>;
  readonly cpus: number;
  readonly memoryGb: number;
  /** The least memory the host must report; the budget check sets it. */
  readonly minMemoryMb: number;
  /** @default 20 */
  readonly minDiskGb?: number;
}

/** The kernel parameters the preflight checks, as the install sets them (cluster/hardening.ts). */
export function kubeletSysctlPairs(): string {
  return Object.entries(KUBELET_SYSCTLS).map(([k, v]) => `${k}=${v}`).join(" ");
}

export class BareMetalHost extends pulumi.ComponentResource {
  public readonly nodes: HostNode[];
  public readonly preflight: command.remote.Command;

  constructor(name: string, args: BareMetalHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:host:BareMetalHost", name, {}, opts);
    const connection = {
      host: args.address, user: args.user, port: args.port, privateKey: pulumi.secret(args.privateKey), ...SSH_DIAL,
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
    const address = pulumi.output(args.address);
    this.nodes = [{
      name: "server-0", connection, publicAddress: address, privateAddress: address,
      cpus: args.cpus, memoryGb: args.memoryGb, ready: [this.preflight],
    }];
    this.registerOutputs({ address });
  }
}
