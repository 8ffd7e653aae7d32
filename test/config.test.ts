import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { ALWAYS_FREE, checkUnknownKeys, ConfigSource, isDnsName, isIpv4Cidr, parseConfig } from "../config";
import { runStack, runStackError, stackFileConfig } from "./helpers/stack";

function source(values: Record<string, string>, secrets: Record<string, string> = {}): ConfigSource {
  return {
    get: (k) => values[k],
    getSecret: (k) => (k in secrets ? pulumi.secret(secrets[k]) : undefined),
  };
}

const OCI = { domain: "platform.example.com", adminCidr: "203.0.113.7/32", compartmentId: "ocid1.compartment.oc1..example", "oci:region": "eu-frankfurt-1", backupOciUserOcid: "ocid1.user.oc1..example" };
const HOMELAB = { domain: "homelab.example.com", hostAddress: "192.0.2.10", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHti2OleQg5G0MHLhX1RVjYSi3xH/ocsHLq0NbtQ6yaa" };
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

  it("oci defaults: one node of 2 OCPU / 12 GB (the whole Always Free allowance), 50 GB boot, Ubuntu 24.04", () => {
    const cfg = parseConfig(source({ ...OCI }), "oci");
    expect(cfg.oci).toMatchObject({ ocpus: 2, memoryGb: 12, nodeCount: 1, bootVolumeGb: 50, ubuntuVersion: "24.04", allowPaidShapes: false });
    expect(cfg.hostCpus).toBe(2);
    expect(cfg.hostMemoryGb).toBe(12);
  });

  it("the Always Free limit is 2 OCPU / 12 GB of A1 and 200 GB of block storage in total (since 2026-06-15)", () => {
    expect(ALWAYS_FREE).toEqual({ ocpus: 2, memoryGb: 12, bootVolumeGb: 200 });
  });

  it("the committed stacks/Pulumi.oci.yaml passes the free-tier guard at 2/12 without allowPaidShapes", () => {
    const file = stackFileConfig("oci");
    expect(file["platform:allowPaidShapes"]).toBeUndefined();
    const values = Object.fromEntries(Object.entries(file).filter(([k]) => k.startsWith("platform:") || k.startsWith("oci:")).map(([k, v]) => [k.replace(/^platform:/, ""), v]));
    const cfg = parseConfig(source(values), "oci");
    expect(cfg.oci).toMatchObject({ ocpus: 2, memoryGb: 12, nodeCount: 1, allowPaidShapes: false });
    expect(cfg.oci!.ocpus * cfg.oci!.nodeCount).toBeLessThanOrEqual(ALWAYS_FREE.ocpus);
    expect(cfg.oci!.memoryGb * cfg.oci!.nodeCount).toBeLessThanOrEqual(ALWAYS_FREE.memoryGb);
    expect(cfg.oci!.bootVolumeGb * cfg.oci!.nodeCount).toBeLessThanOrEqual(ALWAYS_FREE.bootVolumeGb);
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

  it("two A1 nodes of 1 OCPU / 6 GB fit the Always Free tier exactly", () => {
    const cfg = parseConfig(source({ ...OCI, nodeCount: "2", ocpus: "1", memoryGb: "6", bootVolumeGb: "100" }), "oci");
    expect(cfg.hostCpus).toBe(ALWAYS_FREE.ocpus);
    expect(cfg.hostMemoryGb).toBe(ALWAYS_FREE.memoryGb);
  });

  it("paid shapes pass only with allowPaidShapes", () => {
    expect(parseConfig(source({ ...OCI, ocpus: "8", memoryGb: "48", allowPaidShapes: "true" }), "oci").oci?.ocpus).toBe(8);
    expect(parseConfig(source({ ...OCI, ocpus: "4", memoryGb: "24", allowPaidShapes: "true" }), "oci").hostMemoryGb).toBe(24);
    expect(() => parseConfig(source({ ...OCI, ocpus: "4", memoryGb: "24" }), "oci")).toThrow(/platform:ocpus: .*Always Free limit of 2/);
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
    ["Always Free OCPUs exceeded: 3 OCPU", "oci", { ...OCI, ocpus: "3" }, {}, /platform:ocpus: ocpus x nodeCount = 3 x 1 = 3 exceeds the Always Free limit of 2 in total.*2 OCPU \/ 12 GB since 2026-06-15.*platform:allowPaidShapes true/],
    ["Always Free memory exceeded: 16 GB", "oci", { ...OCI, memoryGb: "16" }, {}, /platform:memoryGb: memoryGb x nodeCount = 16 x 1 = 16 exceeds the Always Free limit of 12 in total.*platform:allowPaidShapes true/],
    ["Always Free OCPUs exceeded by nodeCount (default 2/12 x 2)", "oci", { ...OCI, nodeCount: "2" }, {}, /platform:ocpus: ocpus x nodeCount = 2 x 2 = 4 exceeds the Always Free limit of 2/],
    ["Always Free memory exceeded by nodeCount", "oci", { ...OCI, ocpus: "1", memoryGb: "8", nodeCount: "2" }, {}, /platform:memoryGb: memoryGb x nodeCount = 8 x 2 = 16 exceeds the Always Free limit of 12/],
    ["Always Free boot volume exceeded", "oci", { ...OCI, ocpus: "1", memoryGb: "6", nodeCount: "2", bootVolumeGb: "110" }, {}, /platform:bootVolumeGb: bootVolumeGb x nodeCount = 110 x 2 = 220 exceeds the Always Free limit of 200/],
    ["boot volume below OCI minimum", "oci", { ...OCI, bootVolumeGb: "20" }, {}, /platform:bootVolumeGb: must be a whole number from 50/],
    ["allowPaidShapes not boolean", "oci", { ...OCI, allowPaidShapes: "yes" }, {}, /platform:allowPaidShapes: must be true or false/],
    ["sshPublicKey malformed", "oci", { ...OCI, sshPublicKey: "hello" }, KEY, /platform:sshPublicKey: must be an OpenSSH public key/],
    ["replaceNode not a token", "oci", { ...OCI, replaceNode: "yes please" }, {}, /platform:replaceNode: must be a short token/],
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
    ["Always Free: 3 OCPU", "oci", { "platform:ocpus": "3" }, /platform:ocpus: .*exceeds the Always Free limit of 2/],
    ["Always Free: 16 GB", "oci", { "platform:memoryGb": "16" }, /platform:memoryGb: .*exceeds the Always Free limit of 12/],
    ["Always Free: 2 nodes of 2/12", "oci", { "platform:nodeCount": "2", "platform:ocpus": "2", "platform:memoryGb": "12" }, /platform:ocpus: ocpus x nodeCount = 2 x 2 = 4 exceeds/],
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

describe("the oci stack at the Always Free tier (issue 11)", () => {
  it("the committed oci stack evaluates at 2 OCPU / 12 GB: one A1 instance of that shape", async () => {
    const { created } = await runStack("oci");
    const instances = created.filter((c) => c.type === "oci:Core/instance:Instance");
    expect(instances).toHaveLength(1);
    expect(instances[0].inputs.shapeConfig).toEqual({ ocpus: 2, memoryInGbs: 12 });
  });

  it("more than the allowance evaluates only with allowPaidShapes", async () => {
    const { created } = await runStack("oci", { config: { "platform:ocpus": "3", "platform:memoryGb": "16", "platform:allowPaidShapes": "true" } });
    const instances = created.filter((c) => c.type === "oci:Core/instance:Instance");
    expect(instances.map((i) => i.inputs.shapeConfig)).toEqual([{ ocpus: 3, memoryInGbs: 16 }]);
  });
});
