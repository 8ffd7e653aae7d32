// What replacing an OCI node costs, said before it happens. The instance is deleted before its
// replacement is created (one 2/12 node fills the Always Free allowance, and the new VNIC reuses the
// hostname label, unique per subnet), so its boot volume, and all data on it, goes first. Two guards
// refuse a replacement until the user confirms it with a new `platform:replaceNode`:
//   - placement: the availability domain, checked before the instance is touched (also under
//     `pulumi up --skip-preview`);
//   - identity: the instance's OCID, which a preview cannot know for an instance being replaced for
//     any reason (`pulumi up --replace`, a new subnet, a provider's ForceNew field).
import { createHash } from "crypto";

/** The config key that confirms a node replacement (any value not used before, e.g. today's date). */
export const REPLACE_NODE_KEY = "platform:replaceNode";

const fingerprint = (label: string, value: string) => createHash("sha256").update(`${label}\0${value}`).digest("hex");

/** Fingerprint of where a node is placed: an instance cannot move to another availability domain. */
export function placementFingerprint(availabilityDomain: string): string {
  return fingerprint("platform:oci-node-placement", availabilityDomain);
}

/** Fingerprint of the instance itself: a new OCID is a new, empty node. */
export function instanceFingerprint(instanceId: string): string {
  return fingerprint("platform:oci-node-instance", instanceId);
}

export interface NodeLossArgs {
  /** Logical node name, e.g. "server-0". */
  readonly node: string;
  /** The instance's display name in the OCI console. */
  readonly instance: string;
  /** Why it would be replaced, as far as the program can tell. */
  readonly cause: string;
}

/** The message of both guards: what is lost, how to keep it, how to go ahead. Pure. */
export function nodeLossMessage(args: NodeLossArgs): string {
  return [
    `Refused: node ${args.node} (OCI instance ${args.instance}) would be replaced: ${args.cause}.`,
    "The old instance is deleted before the new one is created (the Always Free allowance holds one 2 OCPU / 12 GB node),",
    "and its boot volume with it: Gitea's repositories, users and tokens, the registry's images, Prometheus' data,",
    "the sample app's PostgreSQL database, every other local-path volume, and the cluster's own state (K3s is",
    "installed again and the stack recreates what it declares). If A1 capacity is short the new node may not come",
    "up until a later `pulumi up`.",
    "Back up first: a backup of the boot volume (OCI console: Compute > Instances > the instance > Boot volume >",
    "Create manual backup; Always Free includes 5 volume backups), or at least `git clone --mirror` each Gitea",
    "repository and `kubectl -n sample-app exec sts/sample-db -- pg_dump -U sample sample > sample.sql` (images are",
    "rebuilt by the release workflow).",
    `Then confirm with a value not used before: pulumi config set ${REPLACE_NODE_KEY} "$(date +%F)" and run pulumi up again.`,
  ].join(" ");
}
