// What every host hands to the cluster: how to reach each node and how big it is.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

export interface HostNode {
  /** Logical name, e.g. "server-0", "agent-1". */
  readonly name: string;
  readonly connection: command.types.input.remote.ConnectionArgs;
  /** Address Pulumi and users reach (public IP or host address). */
  readonly publicAddress: pulumi.Output<string>;
  /** Address other nodes and pods reach (private IP on OCI). */
  readonly privateAddress: pulumi.Output<string>;
  readonly cpus: number;
  readonly memoryGb: number;
  /** Resources that must finish before K3s is installed (cloud-init, preflight). */
  readonly ready: pulumi.Resource[];
  /** The machine, where the stack owns it (the OCI instance): a new one is a new, empty node. */
  readonly machine?: pulumi.CustomResource;
}

/** SSH retries while a fresh instance boots: 30 dials x 15 s covers a slow first boot. */
export const SSH_DIAL = { dialErrorLimit: 30, perDialTimeout: 15 } as const;
