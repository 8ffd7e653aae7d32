// The stack's public interface. Every `platform:` key is read and validated here, once,
// before any resource is registered; components only ever see the typed PlatformConfig.
import * as pulumi from "@pulumi/pulumi";
import { ENVIRONMENTS, Environment, PROFILES, Profile } from "./components/lib/profiles";

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
  /** The user's key, authorized next to the stack's own (generated with @pulumi/tls); may change later. */
  readonly sshPublicKey?: string;
  /** Only for nodes launched with sshPublicKey alone: the stack authorizes its own key with it, once. */
  readonly sshPrivateKey?: pulumi.Output<string>;
  /** Confirms a node replacement when set to a value not used before (components/host/node-replacement.ts). */
  readonly replaceNode?: string;
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
  /**
   * Let a refresh drop Kubernetes resources from the state when the cluster cannot be reached. Off:
   * an unreachable API (a new home IP outside adminCidr, Docker stopped) is far more often a network
   * problem than a deleted cluster. Turn on only when the cluster is really gone.
   */
  readonly deleteUnreachable: boolean;
  /**
   * Confirms, once, that the cluster was rotated to a new platform:k3sToken (`k3s token rotate`):
   * a value not used before lets the new token through the guard that otherwise refuses it.
   */
  readonly k3sTokenRotated?: string;
}

/** Every key this program reads, with where it applies. Unknown `platform:` keys are errors (typos). */
export const CONFIG_KEYS = [
  "environment", "domain", "adminCidr", "hostCpus", "hostMemoryGb",
  "compartmentId", "ocpus", "memoryGb", "nodeCount", "bootVolumeGb", "ubuntuVersion",
  "availabilityDomainIndex", "allowPaidShapes", "sshPublicKey", "sshPrivateKey", "replaceNode",
  "hostAddress", "sshUser", "sshPort",
  "clusterName",
  "giteaAdminPassword", "argocdAdminPassword", "guestPassword", "registryPassword", "k3sToken",
  "deleteUnreachable", "k3sTokenRotated",
] as const;

export class ConfigError extends Error {
  constructor(key: string, message: string) {
    super(`platform:${key}: ${message}`);
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
  // No private key is needed with sshPublicKey: Pulumi connects with the stack's own key.
  const replaceNode = src.get("replaceNode");
  if (replaceNode !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(replaceNode)) {
    throw new ConfigError("replaceNode", `must be a short token (letters, digits, . _ : -; at most 64), e.g. today's date 2026-07-20, got "${replaceNode.slice(0, 20)}"`);
  }
  const ubuntuVersion = src.get("ubuntuVersion") ?? "24.04";
  if (!/^\d{2}\.04$/.test(ubuntuVersion)) {
    throw new ConfigError("ubuntuVersion", `must be an Ubuntu LTS version such as 24.04, got "${ubuntuVersion}"`);
  }
  const availabilityDomainIndex = int(src, "availabilityDomainIndex", 0, 0, 2);
  return { compartmentId, ocpus, memoryGb, nodeCount, bootVolumeGb, ubuntuVersion, availabilityDomainIndex, allowPaidShapes, sshPublicKey, sshPrivateKey, replaceNode };
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

  const deleteUnreachable = bool(src, "deleteUnreachable", false);
  const k3sTokenRotated = src.get("k3sTokenRotated");
  if (k3sTokenRotated !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(k3sTokenRotated)) {
    throw new ConfigError("k3sTokenRotated", `must be a short token (letters, digits, . _ : -; at most 64), e.g. today's date 2026-07-20, got "${k3sTokenRotated.slice(0, 20)}"`);
  }

  return { stack, environment, profile, domain, adminCidr, hostCpus, hostMemoryGb, oci, homelab, dev, secrets, deleteUnreachable, k3sTokenRotated };
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
  const source: ConfigSource = {
    get: (key) => cfg.get(key),
    getSecret: (key) => cfg.getSecret(key),
  };
  return parseConfig(source, pulumi.getStack());
}
