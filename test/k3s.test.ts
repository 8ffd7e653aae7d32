import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { allocatable, k3sAgentConfig, k3sServerConfig, kubeletArgs, kubeletReservations, registriesYaml, stableYaml } from "../components/cluster/k3s-config";
import { Created, find, findAll, isSecretInput, mocks, plain, unwrap } from "./helpers/mocks";

describe("K3s config builders", () => {
  it("PM-18 kubelet reserves resources and sets eviction thresholds sized for the host", () => {
    const small = kubeletReservations(4, 15);
    const big = kubeletReservations(4, 24);
    expect(small.systemReserved.memoryMi).toBeGreaterThanOrEqual(256);
    expect(big.kubeReserved.memoryMi).toBeGreaterThan(small.kubeReserved.memoryMi);
    expect(big.evictionHardMi).toBeGreaterThan(small.evictionHardMi);
    const args = kubeletArgs(small);
    expect(args).toContain(`system-reserved=cpu=${small.systemReserved.cpuMillis}m,memory=${small.systemReserved.memoryMi}Mi`);
    expect(args.some((a) => a.startsWith("kube-reserved=cpu="))).toBe(true);
    expect(args.find((a) => a.startsWith("eviction-hard="))).toMatch(/memory.available<\d+Mi/);
    expect(args.find((a) => a.startsWith("eviction-soft="))).toBeDefined();
  });

  it("PM-18 the 15 GB host reserves 2-3.5 GiB for the system, kube and eviction (GKE tiers)", () => {
    const r = kubeletReservations(4, 15);
    const reservedMi = r.systemReserved.memoryMi + r.kubeReserved.memoryMi + r.evictionHardMi;
    expect(reservedMi).toBeGreaterThan(2048);
    expect(reservedMi).toBeLessThan(3584);
    expect(allocatable(4, 15).memoryMi).toBe(15 * 1024 - reservedMi);
  });

  it("PM-18 reservations refuse an impossible host", () => {
    expect(() => kubeletReservations(0, 8)).toThrow(/must be positive/);
  });

  it("server config: tls-san, secrets encryption, traefik off, kubelet args, private kubeconfig", () => {
    const cfg = k3sServerConfig({ tlsSans: ["198.51.100.1", "10.0.1.11"], nodeCpus: 4, nodeMemoryGb: 24 });
    expect(cfg["tls-san"]).toEqual(["198.51.100.1", "10.0.1.11"]);
    expect(cfg["secrets-encryption"]).toBe(true);
    expect(cfg.disable).toEqual(["traefik"]);
    expect(cfg["write-kubeconfig-mode"]).toBe("0600");
    // Issue 10 #8: volume data outside the data dir k3s-uninstall.sh removes.
    expect(cfg["default-local-storage-path"]).toBe("/var/lib/platform/volumes");
    expect(String(cfg["default-local-storage-path"]).startsWith("/var/lib/rancher/k3s")).toBe(false);
    expect((cfg["kubelet-arg"] as string[]).length).toBeGreaterThanOrEqual(4);
    expect(() => k3sServerConfig({ tlsSans: [], nodeCpus: 4, nodeMemoryGb: 24 })).toThrow(/tlsSans/);
    expect(k3sAgentConfig(2, 12)["kubelet-arg"]).toEqual(kubeletArgs(kubeletReservations(2, 12)));
  });

  it("PM-04 registries.yaml mirrors the registry name to a node-local endpoint, with auth", () => {
    const doc = registriesYaml({ host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: "pw" });
    expect(doc).toEqual({
      mirrors: { "registry.platform.internal:5000": { endpoint: ["http://127.0.0.1:30500"] } },
      configs: { "127.0.0.1:30500": { auth: { username: "platform", password: "pw" } } },
    });
    expect(() => registriesYaml({ host: "r:5000", endpoint: "127.0.0.1:30500", username: "u", password: "p" })).toThrow(/http/);
  });

  it("stableYaml is deterministic (sorted keys)", () => {
    expect(stableYaml({ b: 1, a: { d: 1, c: 2 } })).toBe("a:\n  c: 2\n  d: 1\nb: 1\n");
  });
});

describe("K3s component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "oci", false));
  beforeEach(() => { created.length = 0; });

  async function build(agents = 0) {
    const { K3s } = await import("../components/cluster/k3s");
    const node = (name: string, i: number) => ({
      name, connection: { host: `198.51.100.${i}`, user: "ubuntu", privateKey: pulumi.secret("key") },
      publicAddress: pulumi.output(`198.51.100.${i}`), privateAddress: pulumi.output(`10.0.1.${i}`),
      cpus: 2, memoryGb: 12, ready: [],
    });
    const k3s = new K3s("k3s", {
      server: node("server-0", 1),
      agents: Array.from({ length: agents }, (_, i) => node(`agent-${i + 1}`, i + 2)),
      token: pulumi.secret("token"),
      registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret("regpw") },
    });
    const kubeconfig = await unwrap(k3s.kubeconfig);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    return { k3s, kubeconfig };
  }

  it("installs the pinned K3s with config.yaml and registries.yaml, secrets only on stdin", async () => {
    const { versions } = await import("../components/lib/versions");
    await build();
    const server = find(created, "command:remote:Command", (c) => c.name === "k3s-server");
    expect(isSecretInput(server.inputs.stdin)).toBe(true);
    const stdin: string = plain(server.inputs.stdin);
    expect(stdin).toContain(`export K3S_VERSION="$(printf '%s' '${Buffer.from(versions.k3s).toString("base64")}' | base64 -d)"`);
    expect(server.inputs.create).not.toContain("token");
    const env = (name: string) => {
      const m = new RegExp(`export ${name}="\\$\\(printf '%s' '([^']*)'`).exec(stdin);
      return m ? Buffer.from(m[1], "base64").toString("utf8") : undefined;
    };
    expect(env("K3S_ROLE")).toBe("server");
    expect(env("K3S_TOKEN")).toBe("token");
    const config = YAML.parse(Buffer.from(env("K3S_CONFIG_B64")!, "base64").toString("utf8"));
    expect(config["tls-san"]).toEqual(["198.51.100.1", "10.0.1.1"]);
    // PM-18: reservations sized for this node (2 CPU / 12 GB), not a fixed host.
    expect(config["kubelet-arg"]).toEqual(kubeletArgs(kubeletReservations(2, 12)));
    const registries = YAML.parse(Buffer.from(env("REGISTRIES_B64")!, "base64").toString("utf8"));
    expect(registries.configs["127.0.0.1:30500"].auth.password).toBe("regpw");
  });

  it("PM-16 servers get the kubectl-argo-rollouts plugin, pinned", async () => {
    const { versions } = await import("../components/lib/versions");
    await build();
    const stdin: string = plain(find(created, "command:remote:Command", (c) => c.name === "k3s-server").inputs.stdin);
    expect(stdin).toContain(Buffer.from(versions.kubectlArgoRollouts).toString("base64"));
    expect(stdin).toContain("kubectl-argo-rollouts-linux-${arch}");
  });

  it("agents join with K3S_URL at the server's private address and the same token", async () => {
    await build(2);
    const agents = findAll(created, "command:remote:Command", (c) => /^k3s-agent-/.test(c.name));
    expect(agents).toHaveLength(2);
    const stdin: string = plain(agents[0].inputs.stdin);
    expect(stdin).toContain(Buffer.from("https://10.0.1.1:6443").toString("base64"));
    expect(stdin).toContain(Buffer.from("agent").toString("base64"));
    // PM-04: every node's containerd gets the same mirror, agents included.
    const m = /export REGISTRIES_B64="\$\(printf '%s' '([^']*)'/.exec(stdin)!;
    const registries = YAML.parse(Buffer.from(Buffer.from(m[1], "base64").toString("utf8"), "base64").toString("utf8"));
    expect(registries.mirrors["registry.platform.internal:5000"].endpoint).toEqual(["http://127.0.0.1:30500"]);
  });

  it("kubeconfig: a secret, at the public address, from credentials read once per cluster (not on install changes)", async () => {
    const { k3s, kubeconfig } = await build();
    expect(await pulumi.isSecret(k3s.kubeconfig)).toBe(true);
    const doc = YAML.parse(kubeconfig);
    expect(doc.clusters[0].cluster.server).toBe("https://198.51.100.1:6443");
    expect(Object.keys(doc.users[0].user)).toEqual(["token"]);
    const read = find(created, "command:remote:Command", (c) => c.name === "k3s-credentials");
    expect(read.inputs.logging).toBe("none");
    // Its only trigger is the cluster's identity; the install's stdin (config.yaml, registries.yaml,
    // version, token) is not among them.
    expect(plain(read.inputs.triggers)).toEqual([await unwrap(k3s.clusterIdentifier)]);
    expect(await unwrap(k3s.clusterIdentifier)).toBe("k3s:host:k3s-server-id");
  });

  it("the server install applies the stack's ServiceAccount, its cluster-admin binding and token Secret", async () => {
    const { pulumiAccessManifest } = await import("../components/cluster/kubeconfig");
    await build();
    const stdin: string = plain(find(created, "command:remote:Command", (c) => c.name === "k3s-server").inputs.stdin);
    expect(stdin).toContain(Buffer.from(Buffer.from(pulumiAccessManifest()).toString("base64")).toString("base64"));
    const agents = await (async () => { created.length = 0; await build(1); return findAll(created, "command:remote:Command", (c) => c.name === "k3s-agent-1"); })();
    expect(plain(agents[0].inputs.stdin)).not.toContain("export PULUMI_ACCESS_B64=");
  });

  it("refuses an unpinned-looking version", async () => {
    const { K3s } = await import("../components/cluster/k3s");
    expect(() => new K3s("bad", { version: "latest" } as any)).toThrow(/v1.34.1\+k3s1/);
  });
});
