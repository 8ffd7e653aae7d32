import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { ALWAYS_FREE, checkUnknownKeys, ConfigSource, isDnsName, isIpv4Cidr, parseConfig } from "../config";
import { runStackError } from "./helpers/stack";

function source(values: Record<string, string>, secrets: Record<string, string> = {}): ConfigSource {
  return {
    get: (k) => values[k],
    getSecret: (k) => (k in secrets ? pulumi.secret(secrets[k]) : undefined),
  };
}

const OCI = { domain: "platform.example.com", adminCidr: "203.0.113.7/32", compartmentId: "ocid1.compartment.oc1..example" };
const HOMELAB = { domain: "homelab.example.com", hostAddress: "192.0.2.10" };
const KEY = { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" };

describe("config contract: valid input", () => {
  it("environment defaults to the stack name", () => {
    expect(parseConfig(source({}), "dev").environment).toBe("dev");
    expect(parseConfig(source({ ...OCI }), "oci").environment).toBe("oci");
  });

  it("environment can be set for a stack named otherwise (oci-prod)", () => {
    const cfg = parseConfig(source({ ...OCI, environment: "oci" }), "oci-prod");
    expect(cfg.environment).toBe("oci");
    expect(cfg.stack).toBe("oci-prod");
  });

  it("oci defaults: 4 OCPU, 24 GB, one node, 50 GB boot, Ubuntu 24.04", () => {
    const cfg = parseConfig(source({ ...OCI }), "oci");
    expect(cfg.oci).toMatchObject({ ocpus: 4, memoryGb: 24, nodeCount: 1, bootVolumeGb: 50, ubuntuVersion: "24.04", allowPaidShapes: false });
    expect(cfg.hostCpus).toBe(4);
    expect(cfg.hostMemoryGb).toBe(24);
  });

  it("homelab defaults: ubuntu user, port 22, the 15 GB host of the post-mortems", () => {
    const cfg = parseConfig(source({ ...HOMELAB }, KEY), "homelab");
    expect(cfg.homelab).toMatchObject({ hostAddress: "192.0.2.10", sshUser: "ubuntu", sshPort: 22 });
    expect(cfg.hostMemoryGb).toBe(15);
  });

  it("dev needs no keys at all", () => {
    const cfg = parseConfig(source({}), "dev");
    expect(cfg.domain).toBe("platform.localhost");
    expect(cfg.dev?.clusterName).toBe("platform");
  });

  it("secrets absent from config stay undefined (generated later), present ones stay secret", async () => {
    const cfg = parseConfig(source({}, { guestPassword: "pw" }), "dev");
    expect(cfg.secrets.giteaAdminPassword).toBeUndefined();
    expect(await pulumi.isSecret(cfg.secrets.guestPassword!)).toBe(true);
  });

  it("two A1 nodes of 2 OCPU / 12 GB fit the Always Free tier", () => {
    const cfg = parseConfig(source({ ...OCI, nodeCount: "2", ocpus: "2", memoryGb: "12", bootVolumeGb: "100" }), "oci");
    expect(cfg.hostCpus).toBe(ALWAYS_FREE.ocpus);
    expect(cfg.hostMemoryGb).toBe(ALWAYS_FREE.memoryGb);
  });

  it("paid shapes pass only with allowPaidShapes", () => {
    expect(parseConfig(source({ ...OCI, ocpus: "8", memoryGb: "48", allowPaidShapes: "true" }), "oci").oci?.ocpus).toBe(8);
  });

  it("validators", () => {
    expect(isDnsName("platform.example.com")).toBe(true);
    expect(isDnsName("Platform_example")).toBe(false);
    expect(isIpv4Cidr("10.0.0.0/8")).toBe(true);
    expect(isIpv4Cidr("10.0.0.0/33")).toBe(false);
    expect(isIpv4Cidr("10.0.0.256/24")).toBe(false);
  });
});

describe("config contract: each bad input names the key and what is allowed", () => {
  const cases: [string, string, Record<string, string>, Record<string, string>, RegExp][] = [
    ["environment unknown", "dev", { environment: "prod" }, {}, /platform:environment: must be one of: oci, homelab, dev; got "prod"/],
    ["stack name not an environment", "staging", {}, {}, /platform:environment: not set and the stack name "staging".*oci, homelab, dev/],
    ["domain invalid", "dev", { domain: "not a domain" }, {}, /platform:domain: must be a valid DNS name/],
    ["domain missing on oci", "oci", { adminCidr: OCI.adminCidr, compartmentId: OCI.compartmentId }, {}, /platform:domain: is required when environment is oci/],
    ["adminCidr missing on oci", "oci", { domain: OCI.domain, compartmentId: OCI.compartmentId }, {}, /platform:adminCidr: is required when environment is oci/],
    ["adminCidr not a CIDR", "oci", { ...OCI, adminCidr: "203.0.113.7" }, {}, /platform:adminCidr: must be an IPv4 CIDR/],
    ["adminCidr open to the world", "oci", { ...OCI, adminCidr: "0.0.0.0/0" }, {}, /platform:adminCidr: must not be 0.0.0.0\/0/],
    ["compartmentId missing", "oci", { domain: OCI.domain, adminCidr: OCI.adminCidr }, {}, /platform:compartmentId: is required when environment is oci/],
    ["compartmentId not an OCID", "oci", { ...OCI, compartmentId: "my-compartment" }, {}, /platform:compartmentId: must be a compartment or tenancy OCID/],
    ["ocpus not a number", "oci", { ...OCI, ocpus: "four" }, {}, /platform:ocpus: must be a whole number from 1 to 80/],
    ["memory per OCPU out of range", "oci", { ...OCI, ocpus: "1", memoryGb: "80", allowPaidShapes: "true" }, {}, /platform:memoryGb: must be between 1 and 64 GB per OCPU/],
    ["Always Free OCPUs exceeded", "oci", { ...OCI, nodeCount: "2" }, {}, /platform:ocpus: ocpus x nodeCount = 8 exceeds the Always Free limit of 4.*allowPaidShapes/],
    ["Always Free memory exceeded", "oci", { ...OCI, ocpus: "2", memoryGb: "16", nodeCount: "2" }, {}, /platform:memoryGb: memoryGb x nodeCount = 32 exceeds the Always Free limit of 24/],
    ["Always Free boot volume exceeded", "oci", { ...OCI, ocpus: "1", memoryGb: "6", nodeCount: "4", bootVolumeGb: "60" }, {}, /platform:bootVolumeGb: bootVolumeGb x nodeCount = 240 exceeds the Always Free limit of 200/],
    ["boot volume below OCI minimum", "oci", { ...OCI, bootVolumeGb: "20" }, {}, /platform:bootVolumeGb: must be a whole number from 50/],
    ["allowPaidShapes not boolean", "oci", { ...OCI, allowPaidShapes: "yes" }, {}, /platform:allowPaidShapes: must be true or false/],
    ["sshPublicKey malformed", "oci", { ...OCI, sshPublicKey: "hello" }, KEY, /platform:sshPublicKey: must be an OpenSSH public key/],
    ["sshPublicKey without private key", "oci", { ...OCI, sshPublicKey: "ssh-ed25519 AAAAC3Nz" }, {}, /platform:sshPrivateKey: is required \(as --secret\) when platform:sshPublicKey is set/],
    ["hostCpus on oci", "oci", { ...OCI, hostCpus: "8" }, {}, /platform:hostCpus: does not apply when environment is oci/],
    ["hostAddress missing", "homelab", { domain: HOMELAB.domain }, KEY, /platform:hostAddress: is required when environment is homelab/],
    ["hostAddress invalid", "homelab", { ...HOMELAB, hostAddress: "300.1.1.1:22" }, KEY, /platform:hostAddress: must be an IPv4 address or a DNS name/],
    ["hostAddress loopback", "homelab", { ...HOMELAB, hostAddress: "127.0.0.1" }, KEY, /platform:hostAddress: must be an address the cluster's pods can reach/],
    ["sshPrivateKey missing on homelab", "homelab", { ...HOMELAB }, {}, /platform:sshPrivateKey: is required when environment is homelab/],
    ["sshUser invalid", "homelab", { ...HOMELAB, sshUser: "Root User" }, KEY, /platform:sshUser: must be a Unix user name/],
    ["sshPort out of range", "homelab", { ...HOMELAB, sshPort: "70000" }, KEY, /platform:sshPort: must be a whole number from 1 to 65535/],
    ["hostMemoryGb too small", "homelab", { ...HOMELAB, hostMemoryGb: "1" }, KEY, /platform:hostMemoryGb: must be a whole number from 2/],
    ["clusterName invalid", "dev", { clusterName: "My_Cluster" }, {}, /platform:clusterName: must be a lowercase DNS label/],
  ];
  for (const [what, stack, values, secrets, message] of cases) {
    it(what, () => {
      expect(() => parseConfig(source(values, secrets), stack)).toThrow(message);
    });
  }

  it("unknown platform: keys are refused (typos would be ignored silently)", () => {
    expect(() => checkUnknownKeys(["platform:domian", "oci:region"])).toThrow(/platform:domian: is not a known key; known keys: environment, domain/);
    expect(() => checkUnknownKeys(["platform:domain", "oci:region"])).not.toThrow();
  });
});

describe("bad config through the whole program registers nothing", () => {
  const programCases: [string, string, Record<string, string | undefined>, RegExp][] = [
    ["environment", "dev", { "platform:environment": "prod" }, /platform:environment: must be one of/],
    ["adminCidr", "oci", { "platform:adminCidr": undefined }, /platform:adminCidr: is required/],
    ["Always Free", "oci", { "platform:nodeCount": "3" }, /Always Free limit/],
    ["unknown key", "dev", { "platform:hostMemoryGB": "8" }, /platform:hostMemoryGB: is not a known key/],
  ];
  for (const [what, stack, config, message] of programCases) {
    it(`${what}: fails before any resource`, async () => {
      const { error, created } = await runStackError(stack, { config });
      expect(error.message).toMatch(message);
      expect(created).toHaveLength(0);
    });
  }
});
