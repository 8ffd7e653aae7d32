import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { k3dConfig } from "../components/cluster/k3d-config";
import { K3S_IMAGE_DIGESTS, k3sImage, versions } from "../components/lib/versions";
import { Created, find, isSecretInput, mocks, plain, unwrap } from "./helpers/mocks";

const args = { name: "platform", httpPort: 8080, httpsPort: 8443, apiPort: 6445, nodePorts: [30300, 30500], registriesYaml: "mirrors: {}\n" };

describe("k3d config builder", () => {
  it("k3d.io/v1alpha5 Simple, pinned rancher/k3s image, traefik disabled, ingress ports mapped", () => {
    const cfg = k3dConfig(args) as any;
    expect(cfg.apiVersion).toBe("k3d.io/v1alpha5");
    expect(cfg.kind).toBe("Simple");
    expect(cfg.image).toBe(k3sImage());
    expect(cfg.image).toBe(`rancher/k3s:${versions.k3s.replace("+", "-")}@${K3S_IMAGE_DIGESTS[versions.k3s]}`);
    expect(cfg.image).not.toMatch(/latest/);
    expect(cfg.options.k3s.extraArgs).toContainEqual({ arg: "--disable=traefik", nodeFilters: ["server:*"] });
    expect(cfg.ports).toContainEqual({ port: "127.0.0.1:8080:80", nodeFilters: ["loadbalancer"] });
    expect(cfg.ports).toContainEqual({ port: "127.0.0.1:30500:30500", nodeFilters: ["server:0"] });
    expect(cfg.kubeAPI.hostPort).toBe("6445");
    expect(cfg.registries.config).toBe("mirrors: {}\n");
  });

  it("without registries.yaml: no registries key (the shape a changed password must not change)", () => {
    const { registriesYaml: _r, ...rest } = args;
    expect((k3dConfig(rest) as any).registries).toBeUndefined();
    expect({ ...(k3dConfig(args) as any), registries: undefined }).toEqual({ ...(k3dConfig(rest) as any), registries: undefined });
  });

  it("refuses a cluster name k3d cannot use", () => {
    expect(() => k3dConfig({ ...args, name: "Dev_Cluster" })).toThrow(/invalid cluster name/);
  });
});

describe("K3d component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("PM-04 creates the cluster from the config file with the registry mirror, deletes on destroy, kubeconfig secret", async () => {
    const { K3d } = await import("../components/cluster/k3d");
    const k3d = new K3d("k3d", {
      name: "platform", httpPort: 8080, httpsPort: 8443, apiPort: 6445, nodePorts: [30300],
      registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret("pw") },
    });
    expect(await pulumi.isSecret(k3d.kubeconfig)).toBe(true);
    await unwrap(k3d.kubeconfig);
    const cmd = find(created, "command:local:Command", (c) => c.name === "k3d-cluster");
    expect(cmd.inputs.create).toContain("k3d cluster create --config");
    expect(cmd.inputs.delete).toContain("k3d cluster delete");
    // The registry password is inside the config, so the environment reaches the engine as a secret.
    expect(isSecretInput(cmd.inputs.environment)).toBe(true);
    const env = plain(cmd.inputs.environment);
    expect(env.K3D_VERSION).toBe(versions.k3d);
    const raw = env.K3D_CONFIG_B64;
    const cfg = YAML.parse(Buffer.from(raw, "base64").toString("utf8"));
    const registries = YAML.parse(cfg.registries.config);
    expect(registries.mirrors["registry.platform.internal:5000"].endpoint).toEqual(["http://127.0.0.1:30500"]);
    expect(registries.configs["127.0.0.1:30500"].auth.password).toBe("pw");
  });

  it("#13.3 every port k3d publishes, the gateway's and the API's too, is bound to 127.0.0.1 (not the LAN)", async () => {
    const { K3d } = await import("../components/cluster/k3d");
    new K3d("k3d", {
      name: "platform", httpPort: 8080, httpsPort: 8443, apiPort: 6445, nodePorts: [30300, 30500],
      registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret("pw") },
    });
    await new Promise((r) => setTimeout(r, 50));
    const cmd = find(created, "command:local:Command", (c) => c.name === "k3d-cluster");
    const cfg = YAML.parse(Buffer.from(plain(cmd.inputs.environment).K3D_CONFIG_B64, "base64").toString("utf8"));
    // [HOST:][HOSTPORT:]CONTAINERPORT: without HOST Docker binds 0.0.0.0.
    const hosts = cfg.ports.map((p: { port: string }) => {
      const parts = p.port.split("@")[0].split(":");
      return parts.length === 3 ? parts[0] : "0.0.0.0";
    });
    expect(hosts).toHaveLength(4);
    expect(new Set(hosts)).toEqual(new Set(["127.0.0.1"]));
    expect(cfg.kubeAPI.hostIP).toBe("127.0.0.1");
  });
});

describe("K3d replacement", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("a changed k3d config replaces the cluster (k3d cannot reconfigure one in place)", async () => {
    const { K3d } = await import("../components/cluster/k3d");
    const build = async (name: string, httpPort: number) => {
      const k3d = new K3d(name, {
        name: "platform", httpPort, httpsPort: 8443, apiPort: 6445, nodePorts: [30300],
        registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret("pw") },
      });
      await unwrap(k3d.kubeconfig);
      return plain(find(created, "command:local:Command", (c) => c.name === `${name}-cluster`).inputs.triggers);
    };
    const a = await build("a", 8080);
    const b = await build("b", 8080);
    const c = await build("c", 9090);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a[0]).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("K3d day two (issue 10 #3, #7)", () => {
  const created: Created[] = [];
  beforeEach(() => { created.length = 0; });
  const build = async (name: string, password: string, previous?: Created[]) => {
    created.length = 0;
    pulumi.runtime.setMocks(mocks(created, { previous }), "gitops-platform", "dev", false);
    const { K3d } = await import("../components/cluster/k3d");
    const k3d = new K3d(name, {
      name: "platform", httpPort: 8080, httpsPort: 8443, apiPort: 6445, nodePorts: [30300],
      registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret(password) },
    });
    await unwrap(k3d.kubeconfig);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const mine = created.filter((c) => c.name.startsWith(`${name}-`));
    const cmd = (n: string) => find(mine, "command:local:Command", (c) => c.name === `${name}-${n}`);
    return { k3d, mine: [...mine], cluster: cmd("cluster"), registries: cmd("registries") };
  };

  it("a rotated registry password keeps the cluster's trigger (the config hash it was created with) and reaches the nodes through k3d-registries", async () => {
    const first = await build("r", "first-password");
    const rotated = await build("r", "second-password", first.mine);
    expect(plain(rotated.cluster.inputs.triggers)).toEqual(plain(first.cluster.inputs.triggers));
    const registries = (c: Created) => Buffer.from(plain(c.inputs.environment).REGISTRIES_B64, "base64").toString("utf8");
    expect(registries(first.registries)).toContain("first-password");
    expect(registries(rotated.registries)).toContain("second-password");
    expect(rotated.registries.inputs.update).toContain("k3d cluster stop");
    // Created with the cluster (whose nodes k3d gave the same file) and replaced with it.
    expect(rotated.registries.inputs.create).toBe("true");
    expect(plain(rotated.registries.inputs.triggers)).toEqual(["r-cluster-id"]);
  });

  it("a real config change (another port) still replaces the cluster, with the whole config's hash", async () => {
    const first = await build("p", "pw");
    pulumi.runtime.setMocks(mocks(created, { previous: first.mine }), "gitops-platform", "dev", false);
    const { K3d } = await import("../components/cluster/k3d");
    new K3d("p", {
      name: "platform", httpPort: 9090, httpsPort: 8443, apiPort: 6445, nodePorts: [30300],
      registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret("pw") },
    });
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    const again = created.filter((c) => c.name === "p-cluster");
    expect(plain(again[again.length - 1].inputs.triggers)).not.toEqual(plain(first.cluster.inputs.triggers));
  });

  it("the kubeconfig: token and CA from k3d-up.sh, at 127.0.0.1:<apiPort>; the identity is the cluster resource", async () => {
    const { k3d } = await build("k", "pw");
    const doc = YAML.parse(await unwrap(k3d.kubeconfig));
    expect(doc.clusters[0].cluster.server).toBe("https://127.0.0.1:6445");
    expect(Object.keys(doc.users[0].user)).toEqual(["token"]);
    expect(await unwrap(k3d.clusterIdentifier)).toBe("k3d:k-cluster-id");
  });
});
