// The stack's public interface. Every `platform:` key is read and validated here, once,
// before any resource is registered; components only ever see the typed PlatformConfig.
import * as pulumi from "@pulumi/pulumi";
import { ENVIRONMENTS, Environment, PROFILES, Profile } from "./components/lib/profiles";
import { BackupConfig, BackupTarget, DEFAULT_HOST_PATH, DEFAULT_RETENTION, DEFAULT_S3_REGION, ociBucketName } from "./components/backup/settings";

/**
 * Always Free limits for VM.Standard.A1.Flex, in total across instances, from 2026-06-15 for new and
 * existing tenancies: 1,500 OCPU-hours and 9,000 GB-hours a month, "equivalent to 2 OCPUs and 12 GB
 * of memory" (was 3,000 / 18,000, i.e. 4 / 24). Block volume 200 GB unchanged. Usage above it is
 * billed or the instances are stopped. Source: docs.oracle.com/en-us/iaas/Content/FreeTier/
 * freetier_topic-Always_Free_Resources.htm, as quoted in ripienaar/free-for-dev#4476 (merged
 * 2026-06-13); mohankumarpaluru/oracle-freetier-instance-creation#85.
 */
export const ALWAYS_FREE = { ocpus: 2, memoryGb: 12, bootVolumeGb: 200 } as const;

export interface OciConfig {
  readonly compartmentId: string;
  readonly ocpus: number;
  readonly memoryGb: number;
  readonly nodeCount: number;
  readonly bootVolumeGb: number;
  readonly ubuntuVersion: string;
  readonly availabilityDomainIndex: number;
  readonly allowPaidShapes: boolean;
  /** When absent, OciHost generates a key pair with @pulumi/tls. */
  readonly sshPublicKey?: string;
  readonly sshPrivateKey?: pulumi.Output<string>;
}

export interface HomelabConfig {
  readonly hostAddress: string;
  readonly sshUser: string;
  readonly sshPort: number;
  readonly sshPrivateKey: pulumi.Output<string>;
}

export interface DevConfig {
  readonly clusterName: string;
}

/** Optional `--secret` keys; each one absent is generated with @pulumi/random. */
export interface SecretInputs {
  readonly giteaAdminPassword?: pulumi.Output<string>;
  readonly argocdAdminPassword?: pulumi.Output<string>;
  readonly guestPassword?: pulumi.Output<string>;
  readonly registryPassword?: pulumi.Output<string>;
  readonly k3sToken?: pulumi.Output<string>;
}

export interface PlatformConfig {
  readonly stack: string;
  readonly environment: Environment;
  readonly profile: Profile;
  readonly domain: string;
  readonly adminCidr?: string;
  /** Capacity the resource budget is checked against (all nodes together). */
  readonly hostCpus: number;
  readonly hostMemoryGb: number;
  readonly oci?: OciConfig;
  readonly homelab?: HomelabConfig;
  readonly dev?: DevConfig;
  readonly secrets: SecretInputs;
  /** Where and how long backups are kept (components/backup). */
  readonly backup: BackupConfig;
}

/** Every key this program reads, with where it applies. Unknown `platform:` keys are errors (typos). */
export const CONFIG_KEYS = [
  "environment", "domain", "adminCidr", "hostCpus", "hostMemoryGb",
  "compartmentId", "ocpus", "memoryGb", "nodeCount", "bootVolumeGb", "ubuntuVersion",
  "availabilityDomainIndex", "allowPaidShapes", "sshPublicKey", "sshPrivateKey",
  "hostAddress", "sshUser", "sshPort",
  "clusterName",
  "giteaAdminPassword", "argocdAdminPassword", "guestPassword", "registryPassword", "k3sToken",
  // Backups (components/backup, README "Backups and restore").
  "backupKeepDaily", "backupKeepWeekly", "backupKeepMonthly", "backupPassword", "backupHostPath",
  "backupS3Endpoint", "backupS3Bucket", "backupS3Region", "backupS3Prefix", "backupS3AccessKeyId", "backupS3SecretAccessKey",
  "backupOciUserOcid",
] as const;

export class ConfigError extends Error {
  constructor(key: string, message: string) {
    // Keys of another namespace (oci:region) keep theirs.
    super(`${key.includes(":") ? key : `platform:${key}`}: ${message}`);
    this.name = "ConfigError";
  }
}

/** What parseConfig needs from pulumi.Config; tests pass a plain object. */
export interface ConfigSource {
  get(key: string): string | undefined;
  getSecret(key: string): pulumi.Output<string> | undefined;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isDnsName(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.split(".");
  return labels.length >= 2 && labels.every((l) => DNS_LABEL.test(l));
}

export function isIpv4(value: string): boolean {
  const parts = value.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIpv4Cidr(value: string): boolean {
  const [ip, bits, ...rest] = value.split("/");
  return rest.length === 0 && bits !== undefined && isIpv4(ip) && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
}

function int(src: ConfigSource, key: string, def: number, min: number, max: number): number {
  const raw = src.get(key);
  if (raw === undefined || raw === "") return def;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(key, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(key, `must be a whole number from ${min} to ${max}, got ${n}`);
  return n;
}

function bool(src: ConfigSource, key: string, def: boolean): boolean {
  const raw = src.get(key);
  if (raw === undefined || raw === "") return def;
  if (raw === "true" || raw === "false") return raw === "true";
  throw new ConfigError(key, `must be true or false, got "${raw}"`);
}

function required(src: ConfigSource, key: string, env: Environment, what: string): string {
  const raw = src.get(key);
  if (raw === undefined || raw.trim() === "") {
    throw new ConfigError(key, `is required when environment is ${env}: ${what}`);
  }
  return raw.trim();
}

function parseEnvironment(src: ConfigSource, stack: string): Environment {
  const raw = src.get("environment");
  const value = raw ?? stack;
  if ((ENVIRONMENTS as readonly string[]).includes(value)) return value as Environment;
  const allowed = ENVIRONMENTS.join(", ");
  if (raw === undefined) {
    throw new ConfigError("environment", `not set and the stack name "${stack}" is not an environment; set it to one of: ${allowed}`);
  }
  throw new ConfigError("environment", `must be one of: ${allowed}; got "${raw}"`);
}

function parseOci(src: ConfigSource): OciConfig {
  const compartmentId = required(src, "compartmentId", "oci", "the OCID of the compartment to build in");
  if (!/^ocid1\.(compartment|tenancy)\.oc\d+\.[a-z0-9-]*\.[a-z0-9]+$/.test(compartmentId)) {
    throw new ConfigError("compartmentId", `must be a compartment or tenancy OCID (ocid1.compartment.oc1..<id>), got "${compartmentId}"`);
  }
  // Default: the whole allowance as one node; profiles.ts (oci) says why one 2/12 beats two 1/6.
  const ocpus = int(src, "ocpus", PROFILES.oci.defaultHostCpus, 1, 80);
  const memoryGb = int(src, "memoryGb", PROFILES.oci.defaultHostMemoryGb, 1, 512);
  // A1.Flex allows 1 to 64 GB of memory per OCPU (OCI docs, "Flexible Shapes").
  if (memoryGb < ocpus || memoryGb > ocpus * 64) {
    throw new ConfigError("memoryGb", `must be between 1 and 64 GB per OCPU for VM.Standard.A1.Flex (${ocpus} to ${ocpus * 64} with ocpus=${ocpus}), got ${memoryGb}`);
  }
  const nodeCount = int(src, "nodeCount", 1, 1, 10);
  // 50 GB is OCI's minimum boot volume.
  const bootVolumeGb = int(src, "bootVolumeGb", 50, 50, 32768);
  const allowPaidShapes = bool(src, "allowPaidShapes", false);
  if (!allowPaidShapes) {
    const total = { ocpus: ocpus * nodeCount, memoryGb: memoryGb * nodeCount, bootVolumeGb: bootVolumeGb * nodeCount };
    for (const [key, limit] of Object.entries(ALWAYS_FREE) as [keyof typeof ALWAYS_FREE, number][]) {
      if (total[key] > limit) {
        const per = { ocpus, memoryGb, bootVolumeGb }[key];
        throw new ConfigError(key, `${key} x nodeCount = ${per} x ${nodeCount} = ${total[key]} exceeds the Always Free limit of ${limit} in total across nodes (A1: ${ALWAYS_FREE.ocpus} OCPU / ${ALWAYS_FREE.memoryGb} GB since 2026-06-15, ${ALWAYS_FREE.bootVolumeGb} GB block storage); lower it, or set platform:allowPaidShapes true to pay for the rest`);
      }
    }
  }
  const sshPublicKey = src.get("sshPublicKey");
  const sshPrivateKey = src.getSecret("sshPrivateKey");
  if (sshPublicKey !== undefined && !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(sshPublicKey)) {
    throw new ConfigError("sshPublicKey", `must be an OpenSSH public key ("ssh-ed25519 AAAA…"), got "${sshPublicKey.slice(0, 20)}…"`);
  }
  if (sshPublicKey !== undefined && sshPrivateKey === undefined) {
    throw new ConfigError("sshPrivateKey", "is required (as --secret) when platform:sshPublicKey is set, so that K3s can be installed over SSH; or unset sshPublicKey to have a key pair generated");
  }
  const ubuntuVersion = src.get("ubuntuVersion") ?? "24.04";
  if (!/^\d{2}\.04$/.test(ubuntuVersion)) {
    throw new ConfigError("ubuntuVersion", `must be an Ubuntu LTS version such as 24.04, got "${ubuntuVersion}"`);
  }
  const availabilityDomainIndex = int(src, "availabilityDomainIndex", 0, 0, 2);
  return { compartmentId, ocpus, memoryGb, nodeCount, bootVolumeGb, ubuntuVersion, availabilityDomainIndex, allowPaidShapes, sshPublicKey, sshPrivateKey };
}

function parseHomelab(src: ConfigSource): HomelabConfig {
  const hostAddress = required(src, "hostAddress", "homelab", "the IPv4 address or DNS name of the Ubuntu host");
  if (!isIpv4(hostAddress) && !isDnsName(hostAddress)) {
    throw new ConfigError("hostAddress", `must be an IPv4 address or a DNS name, got "${hostAddress}"`);
  }
  if (/^(localhost|127\.)/.test(hostAddress)) {
    throw new ConfigError("hostAddress", "must be an address the cluster's pods can reach too, not localhost or 127.0.0.0/8 (PM-14)");
  }
  const sshUser = src.get("sshUser") ?? "ubuntu";
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser)) throw new ConfigError("sshUser", `must be a Unix user name, got "${sshUser}"`);
  const sshPort = int(src, "sshPort", 22, 1, 65535);
  const sshPrivateKey = src.getSecret("sshPrivateKey");
  if (sshPrivateKey === undefined) {
    throw new ConfigError("sshPrivateKey", "is required when environment is homelab: pulumi config set --secret platform:sshPrivateKey < ~/.ssh/id_ed25519");
  }
  return { hostAddress, sshUser, sshPort, sshPrivateKey };
}

/** Pure validation: raw keys in, typed config out, or a ConfigError naming the key. */
export function parseConfig(src: ConfigSource, stack: string): PlatformConfig {
  const environment = parseEnvironment(src, stack);
  const profile = PROFILES[environment];

  const domainRaw = src.get("domain") ?? profile.defaultDomain;
  if (domainRaw === undefined) {
    throw new ConfigError("domain", `is required when environment is ${environment}: the base DNS name for the UIs, e.g. platform.example.com`);
  }
  const domain = domainRaw.trim().toLowerCase();
  if (!isDnsName(domain)) throw new ConfigError("domain", `must be a valid DNS name such as platform.example.com, got "${domainRaw}"`);

  const adminCidr = src.get("adminCidr");
  if (adminCidr !== undefined && !isIpv4Cidr(adminCidr)) {
    throw new ConfigError("adminCidr", `must be an IPv4 CIDR such as 203.0.113.7/32, got "${adminCidr}"`);
  }
  if (environment === "oci" && adminCidr === undefined) {
    throw new ConfigError("adminCidr", "is required when environment is oci: the one IPv4 CIDR allowed to reach SSH (22) and the Kubernetes API (6443), e.g. 203.0.113.7/32");
  }
  if (adminCidr === "0.0.0.0/0") {
    throw new ConfigError("adminCidr", "must not be 0.0.0.0/0: SSH and the Kubernetes API would be open to the internet");
  }

  const oci = environment === "oci" ? parseOci(src) : undefined;
  const homelab = environment === "homelab" ? parseHomelab(src) : undefined;
  let dev: DevConfig | undefined;
  if (environment === "dev") {
    const clusterName = src.get("clusterName") ?? "platform";
    if (!DNS_LABEL.test(clusterName) || clusterName.length > 32) {
      throw new ConfigError("clusterName", `must be a lowercase DNS label of at most 32 characters, got "${clusterName}"`);
    }
    dev = { clusterName };
  }

  // On oci the shape is the capacity; elsewhere the host's size comes from config or the profile.
  const hostCpus = oci ? oci.ocpus * oci.nodeCount : int(src, "hostCpus", profile.defaultHostCpus, 1, 512);
  const hostMemoryGb = oci ? oci.memoryGb * oci.nodeCount : int(src, "hostMemoryGb", profile.defaultHostMemoryGb, 2, 4096);
  if (oci && (src.get("hostCpus") !== undefined || src.get("hostMemoryGb") !== undefined)) {
    throw new ConfigError(src.get("hostCpus") !== undefined ? "hostCpus" : "hostMemoryGb", "does not apply when environment is oci: the capacity is ocpus/memoryGb x nodeCount");
  }

  const secret = (key: keyof SecretInputs) => src.getSecret(key);
  const secrets: SecretInputs = {
    giteaAdminPassword: secret("giteaAdminPassword"),
    argocdAdminPassword: secret("argocdAdminPassword"),
    guestPassword: secret("guestPassword"),
    registryPassword: secret("registryPassword"),
    k3sToken: secret("k3sToken"),
  };

  const backup = parseBackup(src, stack, oci);

  return { stack, environment, profile, domain, adminCidr, hostCpus, hostMemoryGb, oci, homelab, dev, secrets, backup };
}

/**
 * Backups: an explicit S3 endpoint wins; otherwise the stack's own OCI bucket on oci, a directory on
 * the node elsewhere. `oci:region` and `oci:userOcid` are the OCI provider's keys (loadConfig passes
 * them through `get`): the bucket lives in the provider's region and its S3 key belongs to a user.
 */
export function parseBackup(src: ConfigSource, stack: string, oci?: OciConfig): BackupConfig {
  const retention = {
    daily: int(src, "backupKeepDaily", DEFAULT_RETENTION.daily, 0, 3650),
    weekly: int(src, "backupKeepWeekly", DEFAULT_RETENTION.weekly, 0, 520),
    monthly: int(src, "backupKeepMonthly", DEFAULT_RETENTION.monthly, 0, 240),
  };
  if (retention.daily + retention.weekly + retention.monthly === 0) {
    throw new ConfigError("backupKeepDaily", "backupKeepDaily, backupKeepWeekly and backupKeepMonthly are all 0: restic would keep no snapshot; keep at least one");
  }
  const s3Keys = ["backupS3Bucket", "backupS3Region", "backupS3Prefix", "backupS3AccessKeyId", "backupS3SecretAccessKey"] as const;
  const endpoint = src.get("backupS3Endpoint");
  const hostPath = src.get("backupHostPath");
  let target: BackupTarget;
  if (endpoint !== undefined) {
    if (hostPath !== undefined) throw new ConfigError("backupHostPath", "cannot be combined with platform:backupS3Endpoint; choose one backup target");
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(endpoint)) {
      throw new ConfigError("backupS3Endpoint", `must be an http(s) URL without a path, e.g. https://s3.eu-central-003.backblazeb2.com or http://192.168.1.20:9000, got "${endpoint}"`);
    }
    const bucket = src.get("backupS3Bucket");
    if (bucket === undefined || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ConfigError("backupS3Bucket", `is required with platform:backupS3Endpoint: an S3 bucket name (3-63 lowercase letters, digits, dots, dashes), got ${bucket === undefined ? "nothing" : `"${bucket}"`}`);
    }
    const prefix = src.get("backupS3Prefix") ?? `platform/${stack}`;
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(prefix)) throw new ConfigError("backupS3Prefix", `must be a path like platform/${stack} (no leading or trailing slash), got "${prefix}"`);
    const region = src.get("backupS3Region") ?? DEFAULT_S3_REGION;
    if (!/^[a-z0-9-]{2,40}$/.test(region)) throw new ConfigError("backupS3Region", `must be a region name such as us-east-1, got "${region}"`);
    const accessKeyId = src.getSecret("backupS3AccessKeyId");
    const secretAccessKey = src.getSecret("backupS3SecretAccessKey");
    if (accessKeyId === undefined) throw new ConfigError("backupS3AccessKeyId", "is required (as --secret) with platform:backupS3Endpoint");
    if (secretAccessKey === undefined) throw new ConfigError("backupS3SecretAccessKey", "is required (as --secret) with platform:backupS3Endpoint");
    target = { kind: "s3", endpoint: endpoint.replace(/\/$/, ""), bucket, prefix, region, accessKeyId: pulumi.secret(accessKeyId), secretAccessKey: pulumi.secret(secretAccessKey) };
  } else {
    for (const key of s3Keys) if (src.get(key) !== undefined) throw new ConfigError(key, "only applies with platform:backupS3Endpoint");
    if (oci && hostPath === undefined) {
      const region = src.get("oci:region");
      if (region === undefined || !/^[a-z]{2,}-[a-z]+-\d+$/.test(region)) {
        throw new ConfigError("oci:region", `is required on oci for the backup bucket (the provider's region, e.g. eu-frankfurt-1: the bucket is created there and its S3 endpoint names it), got ${region === undefined ? "nothing" : `"${region}"`}`);
      }
      const userOcid = src.get("backupOciUserOcid") ?? src.get("oci:userOcid");
      if (userOcid === undefined || !/^ocid1\.user\.oc\d+\.[a-z0-9-]*\.[a-z0-9]+$/.test(userOcid)) {
        throw new ConfigError("backupOciUserOcid", `is required on oci (or oci:userOcid): the user whose Customer Secret Key the backup jobs use for the bucket's S3 API (ocid1.user.oc1..<id>), got ${userOcid === undefined ? "nothing" : `"${userOcid}"`}`);
      }
      target = { kind: "oci-bucket", compartmentId: oci.compartmentId, region, userOcid, bucket: ociBucketName(stack) };
    } else {
      if (src.get("backupOciUserOcid") !== undefined && !oci) throw new ConfigError("backupOciUserOcid", "only applies when environment is oci");
      const path = hostPath ?? DEFAULT_HOST_PATH;
      if (!/^\/[A-Za-z0-9._/-]+$/.test(path) || path.split("/").includes("..") || /^\/((var\/lib\/rancher|etc|proc|sys|dev|boot)(\/.*)?)?$/.test(path)) {
        throw new ConfigError("backupHostPath", `must be an absolute directory on the node outside K3s's own (e.g. /mnt/backup/platform on a second disk or NAS), got "${path}"`);
      }
      target = { kind: "host-path", path: path.replace(/\/$/, "") };
    }
  }
  const password = src.getSecret("backupPassword");
  return { target, retention, host: stack, ...(password ? { password: pulumi.secret(password) } : {}) };
}

/** Rejects `platform:` keys this program does not know (a typo would otherwise be ignored silently). */
export function checkUnknownKeys(keys: string[]): void {
  const known = new Set<string>(CONFIG_KEYS);
  for (const full of keys) {
    if (!full.startsWith("platform:")) continue;
    const key = full.slice("platform:".length);
    if (!known.has(key)) throw new ConfigError(key, `is not a known key; known keys: ${CONFIG_KEYS.join(", ")}`);
  }
}

/** The one place that reads pulumi.Config. */
export function loadConfig(): PlatformConfig {
  const cfg = new pulumi.Config("platform");
  checkUnknownKeys(Object.keys(pulumi.runtime.allConfig()));
  const oci = new pulumi.Config("oci");
  const source: ConfigSource = {
    // `oci:<key>` reads the OCI provider's own config (region, userOcid) for the backup bucket.
    get: (key) => (key.startsWith("oci:") ? oci.get(key.slice(4)) : cfg.get(key)),
    getSecret: (key) => cfg.getSecret(key),
  };
  return parseConfig(source, pulumi.getStack());
}
