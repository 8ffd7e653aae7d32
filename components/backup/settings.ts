// What the backups need to know, decided once in config.ts: where the restic repositories live,
// how long snapshots are kept, and the one password that encrypts them. Pure: no resources here.
import * as pulumi from "@pulumi/pulumi";
import type { Environment } from "../lib/profiles";

/** OCI: a bucket the stack creates, reached through the S3 compatibility API with a Customer Secret Key. */
export interface OciBucketTarget {
  readonly kind: "oci-bucket";
  readonly compartmentId: string;
  /** The provider's region (oci:region): the bucket is created there, and its S3 endpoint names it. */
  readonly region: string;
  /** The user the Customer Secret Key is created for (OCI allows two such keys per user). */
  readonly userOcid: string;
  readonly bucket: string;
}

/** Any S3-compatible endpoint the user runs or rents (MinIO, Backblaze B2, Cloudflare R2, AWS, OCI). */
export interface S3Target {
  readonly kind: "s3";
  /** http(s)://host[:port], no path. */
  readonly endpoint: string;
  readonly bucket: string;
  /** Folder in the bucket for this stack's repositories (several stacks can share a bucket). */
  readonly prefix: string;
  readonly region: string;
  readonly accessKeyId: pulumi.Output<string>;
  readonly secretAccessKey: pulumi.Output<string>;
}

/**
 * A directory on the server node, served by restic's rest-server: point it at a mounted NAS or a
 * second disk. It is off the node's volumes, not off the node, unless that mount is.
 */
export interface HostPathTarget {
  readonly kind: "host-path";
  readonly path: string;
}

export type BackupTarget = OciBucketTarget | S3Target | HostPathTarget;

/** restic forget --keep-daily/--keep-weekly/--keep-monthly. */
export interface Retention {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

export interface BackupConfig {
  readonly target: BackupTarget;
  readonly retention: Retention;
  /** restic --host of every snapshot: the stack name, so two stacks never mix snapshots. */
  readonly host: string;
  /** platform:backupPassword; generated (and kept in the stack's state) when absent. */
  readonly password?: pulumi.Output<string>;
}

export const DEFAULT_RETENTION: Retention = { daily: 7, weekly: 4, monthly: 6 };
export const DEFAULT_HOST_PATH = "/var/backups/platform";
export const DEFAULT_S3_REGION = "us-east-1";

/** Where backups go when nothing is configured: the bucket on oci, the node's directory elsewhere. */
export function defaultTargetKind(environment: Environment): BackupTarget["kind"] {
  return environment === "oci" ? "oci-bucket" : "host-path";
}

/** OCI bucket names: letters, digits, dashes, underscores, periods (identity of the stack's bucket). */
export function ociBucketName(stack: string): string {
  return `platform-backups-${stack}`.replace(/[^A-Za-z0-9._-]/g, "-");
}

/** The Amazon S3 compatibility endpoint of a tenancy's namespace in a region (OCI docs, "Amazon S3 Compatibility API"). */
export function ociS3Endpoint(namespace: string, region: string): string {
  return `https://${namespace}.compat.objectstorage.${region}.oraclecloud.com`;
}

/** The namespace holding the K3s datastore job (hostPath, so Pod Security privileged) and the rest-server. */
export const BACKUP_NAMESPACE = "backup";

/** restic's rest-server for the host-path target, in BACKUP_NAMESPACE. */
export const REST_SERVER = {
  name: "restic-rest",
  port: 8000,
  user: "backup",
  labels: { "app.kubernetes.io/name": "restic-rest-server" } as Readonly<Record<string, string>>,
} as const;

/** What the traffic plan needs: the object store's ports and addresses, or the in-cluster rest-server. */
export type BackupTraffic =
  | { readonly kind: "object-store"; readonly ports: readonly number[]; readonly cidrs: readonly string[] }
  | { readonly kind: "rest-server" };

function isIpv4(host: string): boolean {
  return /^(\d{1,3}\.){3}\d{1,3}$/.test(host) && host.split(".").every((p) => Number(p) <= 255);
}

/** The flows a target needs; undefined config means the environment's default target. */
export function backupTraffic(environment: Environment, backup?: BackupConfig): BackupTraffic {
  const kind = backup?.target.kind ?? defaultTargetKind(environment);
  if (kind === "host-path") return { kind: "rest-server" };
  if (backup?.target.kind !== "s3") return { kind: "object-store", ports: [443], cidrs: ["0.0.0.0/0"] };
  const url = new URL(backup.target.endpoint);
  const port = url.port ? Number(url.port) : url.protocol === "http:" ? 80 : 443;
  // An address the user gave is the only one the jobs may reach; a name may resolve anywhere.
  return { kind: "object-store", ports: [port], cidrs: [isIpv4(url.hostname) ? `${url.hostname}/32` : "0.0.0.0/0"] };
}
