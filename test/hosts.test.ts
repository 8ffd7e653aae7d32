import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { cloudInit } from "../components/host/cloud-init";
import { ingressRules } from "../components/host/oci-host";
import { pickUbuntuImage, ubuntuImageQuery } from "../components/inputs";
import { Created, find, findAll, isSecretInput, MOCK_HOST_KEY, mocks, plain, unwrap } from "./helpers/mocks";
import { settle as settleMocks } from "./helpers/mocks";

describe("OCI network and cloud-init builders", () => {
  it("security list: 80/443 open, 22 and 6443 only from adminCidr, K3s ports only inside the VCN", () => {
    const rules = ingressRules("203.0.113.7/32", "10.0.0.0/16");
    const tcp = (port: number) => rules.filter((r) => r.protocol === "6" && (r.tcpOptions as any).min <= port && (r.tcpOptions as any).max >= port).map((r) => r.source);
    const udp = (port: number) => rules.filter((r) => r.protocol === "17" && (r.udpOptions as any).min <= port && (r.udpOptions as any).max >= port).map((r) => r.source);
    expect(tcp(80)).toEqual(["0.0.0.0/0"]);
    expect(tcp(443)).toEqual(["0.0.0.0/0"]);
    expect(tcp(22)).toEqual(["203.0.113.7/32"]);
    expect(tcp(6443).sort()).toEqual(["10.0.0.0/16", "203.0.113.7/32"]);
    expect(tcp(10250)).toEqual(["10.0.0.0/16"]);
    expect(udp(8472)).toEqual(["10.0.0.0/16"]);
    expect(udp(51820)).toEqual(["10.0.0.0/16"]);
    expect(udp(51821)).toEqual(["10.0.0.0/16"]);
    expect(rules.every((r) => r.source !== "0.0.0.0/0" || [80, 443].includes((r.tcpOptions as any)?.min) || r.protocol === "1")).toBe(true);
  });

  it("cloud-init opens K3s ports ahead of Oracle's REJECT rules and persists them", () => {
    const text = cloudInit({ vcnCidr: "10.0.0.0/16" });
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const doc = YAML.parse(text);
    const script = doc.write_files[0].content as string;
    expect(script).toContain("iptables -I \"$chain\" 1");
    expect(script).toContain("netfilter-persistent save");
    expect(doc.runcmd[0]).toContain("VCN_CIDR=10.0.0.0/16");
    expect(doc.runcmd[0]).toContain("POD_CIDR=10.42.0.0/16");
    expect(doc.runcmd[0]).toContain("SERVICE_CIDR=10.43.0.0/16");
  });
});

describe("#13 the Ubuntu image, looked up before any resource (components/inputs.ts)", () => {
  it("the newest available Canonical Ubuntu image of platform:ubuntuVersion for the A1 shape", () => {
    expect(ubuntuImageQuery("ocid1.compartment.oc1..example", "22.04")).toEqual({
      compartmentId: "ocid1.compartment.oc1..example", operatingSystem: "Canonical Ubuntu", operatingSystemVersion: "22.04",
      shape: "VM.Standard.A1.Flex", sortBy: "TIMECREATED", sortOrder: "DESC", state: "AVAILABLE",
    });
    expect(pickUbuntuImage([{ id: "newest" }, { id: "older" }], { ubuntuVersion: "24.04" })).toBe("newest");
  });
  it("none: a ConfigError naming platform:ubuntuVersion, the shape and the region", () => {
    expect(() => pickUbuntuImage([], { ubuntuVersion: "26.04", region: "ap-osaka-1" }))
      .toThrow(/^platform:ubuntuVersion: no Canonical Ubuntu 26\.04 image for VM\.Standard\.A1\.Flex in ap-osaka-1/);
    expect(() => pickUbuntuImage([], { ubuntuVersion: "26.04" })).toThrow(/in the provider's region/);
  });
});

describe("hosts under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "oci", false));
  beforeEach(() => { created.length = 0; });
  const settle = () => settleMocks(5);

  const base = {
    compartmentId: "ocid1.compartment.oc1..example", adminCidr: "203.0.113.7/32", ocpus: 2, memoryGb: 12,
    nodeCount: 2, bootVolumeGb: 100, imageId: "ocid1.image.oc1..mock-newest", availabilityDomainIndex: 0,
  };

  it("OciHost: A1.Flex instances from the newest Ubuntu image, no silent replacement", async () => {
    const { OciHost } = await import("../components/host/oci-host");
    const host = new OciHost("oci", base);
    await unwrap(host.publicIps);
    await settle();
    const instances = findAll(created, "oci:Core/instance:Instance");
    expect(instances).toHaveLength(2);
    const i = instances[0];
    expect(i.inputs.shape).toBe("VM.Standard.A1.Flex");
    expect(i.inputs.shapeConfig).toEqual({ ocpus: 2, memoryInGbs: 12 });
    expect(i.inputs.sourceDetails).toMatchObject({ sourceType: "image", sourceId: "ocid1.image.oc1..mock-newest", bootVolumeSizeInGbs: "100" });
    expect(i.inputs.createVnicDetails.assignPublicIp).toBe("true");
    expect(Buffer.from(plain(i.inputs.metadata).user_data, "base64").toString()).toMatch(/^#cloud-config/);
    expect(findAll(created, "command:remote:Command", (c) => /cloud-init$/.test(c.name))).toHaveLength(2);
  });

  it("OciHost: no SSH key configured generates one, private key only as a secret", async () => {
    const { OciHost } = await import("../components/host/oci-host");
    const host = new OciHost("oci", { ...base, nodeCount: 1 });
    await settle();
    find(created, "tls:index/privateKey:PrivateKey", (c) => c.name === "oci-ssh");
    expect(await pulumi.isSecret(host.generatedPrivateKey!)).toBe(true);
    const wait = find(created, "command:remote:Command", (c) => /cloud-init$/.test(c.name));
    // @pulumi/command marks the whole connection secret; the key must be in it.
    expect(isSecretInput(wait.inputs.connection)).toBe(true);
    expect(plain(wait.inputs.connection).privateKey).toContain("OPENSSH PRIVATE KEY");
    expect(plain(wait.inputs.connection).dialErrorLimit).toBeGreaterThanOrEqual(10);
  });

  it("OciHost: a configured key is authorized next to the stack's own, which Pulumi connects with", async () => {
    const { OciHost } = await import("../components/host/oci-host");
    const host = new OciHost("oci", { ...base, nodeCount: 1, sshPublicKey: "ssh-ed25519 AAAAuser me@laptop", sshPrivateKey: pulumi.secret("user-private") });
    await unwrap(host.publicIps);
    await settle();
    find(created, "tls:index/privateKey:PrivateKey", (c) => c.name === "oci-ssh");
    expect(plain(find(created, "oci:Core/instance:Instance").inputs.metadata).ssh_authorized_keys).toBe("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAImock\nssh-ed25519 AAAAuser me@laptop\n");
    expect(host.generatedPrivateKey).toBeUndefined();
    const commands = findAll(created, "command:remote:Command");
    // A node this program launched trusts the stack's key: no command connects with the user's.
    expect(commands.map((c) => c.name).sort()).toEqual(["oci-server-0-cloud-init", "oci-server-0-firewall", "oci-server-0-host-key", "oci-server-0-ssh-keys", "oci-server-0-stack-key"]);
    expect(commands.every((c) => plain(c.inputs.connection).privateKey.includes("OPENSSH PRIVATE KEY"))).toBe(true);
    expect(host.nodes[0].connection.privateKey).toBeDefined();
    expect(plain(await unwrap(pulumi.output(host.nodes[0].connection.privateKey)))).toContain("OPENSSH PRIVATE KEY");
  });

  it("BareMetalHost: preflight over SSH with retries, checks fed on stdin", async () => {
    const { BareMetalHost } = await import("../components/host/bare-metal-host");
    new BareMetalHost("homelab", { address: "192.0.2.10", user: "ubuntu", port: 22, privateKey: pulumi.secret("k"), hostKey: MOCK_HOST_KEY.pub, cpus: 4, memoryGb: 15, minMemoryMb: 13824 });
    await settle();
    const pre = find(created, "command:remote:Command", (c) => c.name === "homelab-preflight");
    expect(plain(pre.inputs.connection)).toMatchObject({ host: "192.0.2.10", user: "ubuntu", port: 22, dialErrorLimit: 30, hostKey: MOCK_HOST_KEY.pub });
    const stdin: string = plain(pre.inputs.stdin);
    expect(stdin).toContain("preflight: FAILED");
    expect(stdin).toContain(Buffer.from("13824").toString("base64"));
  });
});
