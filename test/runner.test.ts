import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Created, find, findAll, mocks, plain, unwrap } from "./helpers/mocks";
import { isLoopbackReference, REGISTRY_NAME } from "../components/lib/endpoints";
import { SIZES } from "../components/lib/sizes";
import { images } from "../components/lib/versions";
import type { ClusterContext } from "../components/lib/context";
import {
  checkClusterIP, checkInstanceUrl, DEFAULT_DIND_MTU, DOCKER_HOST, DOCKER_SOCKET_DIR, dockerdArgs, JOB_DOCKER_HOST, RUNNER_CONFIG_MAP,
  runnerConfig, runnerDeployment, runnerLabels, runnerScope, RUNNER_TOKEN_DIR, RUNNER_TOKEN_SECRET,
} from "../components/gitops/runner-config";
import { giteaValues, LEGACY_GITEA_RUNNER_TOKEN_SECRET } from "../components/gitops/gitea-values";
import { testContext } from "./helpers/context";
import { allowed, planPolicyNames, platformPolicies } from "./helpers/netpol";
import { settle as settleMocks } from "./helpers/mocks";

// Distinct ClusterIPs per Service, so a test can tell which Service an address came from.
const IPS: Record<string, string> = { "gitea-http": "10.43.0.30", registry: "10.43.0.49", "registry-push": "10.43.0.50" };
const created: Created[] = [];
beforeAll(() => {
  const base = mocks(created);
  pulumi.runtime.setMocks({
    ...base,
    newResource(args) {
      const out = base.newResource(args) as { id: string; state: Record<string, any> };
      const ip = IPS[args.inputs.metadata?.name];
      if (args.type === "kubernetes:core/v1:Service" && ip) out.state.spec = { ...out.state.spec, clusterIP: ip };
      return out;
    },
  }, "gitops-platform", "dev", false);
});
beforeEach(() => { created.length = 0; });

const JOB_IMAGE = "docker.io/library/node:24.19.0-bookworm";
const ctx = (): ClusterContext => testContext("dev");
const settle = () => settleMocks(5);
const hosts = [{ host: "gitea-http.gitea.svc.cluster.local", ip: "10.43.0.30" }];

describe("runnerConfig (pure)", () => {
  it("PM-01 job containers use the host network and --add-host entries for the in-cluster names", () => {
    const c = runnerConfig({ hosts: [...hosts, { host: REGISTRY_NAME, ip: "10.43.0.50" }], labels: runnerLabels(JOB_IMAGE) }) as any;
    expect(c.container.network).toBe("host");
    expect(c.container.options).toBe(`--add-host=gitea-http.gitea.svc.cluster.local:10.43.0.30 --add-host=${REGISTRY_NAME}:10.43.0.50`);
    expect(c.runner.capacity).toBe(1);
    expect(c.container.privileged).toBe(false);
  });

  it("PM-01 a headless Service (the chart's own, clusterIP None) or a loopback address cannot back --add-host", () => {
    expect(() => checkClusterIP("None", "gitea")).toThrow(/headless/);
    expect(() => runnerConfig({ hosts: [{ host: "gitea-http.gitea.svc.cluster.local", ip: "127.0.0.1" }], labels: runnerLabels(JOB_IMAGE) })).toThrow(/loopback/);
    expect(() => runnerConfig({ hosts: [{ host: "gitea-http.gitea.svc.cluster.local", ip: "gitea" }], labels: runnerLabels(JOB_IMAGE) })).toThrow(/not an IP/);
  });

  it("labels map to a pinned job image, never latest; builder refuses bad input", () => {
    expect(runnerLabels(JOB_IMAGE)).toEqual([`ubuntu-latest:docker://${JOB_IMAGE}`, `ubuntu-24.04:docker://${JOB_IMAGE}`]);
    expect(() => runnerLabels("docker.io/library/node:latest")).toThrow(/never latest/);
    expect(() => runnerLabels("docker.io/library/node")).toThrow(/pinned tag/);
    expect(() => runnerLabels(JOB_IMAGE, ["Bad Label"])).toThrow(/invalid label/);
    expect(() => runnerConfig({ hosts: [], labels: runnerLabels(JOB_IMAGE) })).toThrow(/Gitea host entry/);
    expect(() => runnerConfig({ hosts, labels: [] })).toThrow(/no labels/);
    expect(() => runnerConfig({ hosts, labels: ["ubuntu:host"] })).toThrow(/docker:\/\//);
    expect(() => runnerConfig({ hosts, labels: runnerLabels(JOB_IMAGE), capacity: 0 })).toThrow(/capacity/);
  });

  it("PM-01 dockerd MTU below the pod network's; the in-cluster registry over plain HTTP", () => {
    const a = dockerdArgs("registry.platform.internal:5000");
    expect(a).toContain(`--mtu=${DEFAULT_DIND_MTU}`);
    expect(DEFAULT_DIND_MTU).toBeLessThan(1450);
    expect(a.some((x) => x.includes("0.0.0.0"))).toBe(false);
    expect(a).toContain("--insecure-registry=registry.platform.internal:5000");
    expect(() => dockerdArgs("registry.platform.internal:5000", 1500)).toThrow(/MTU/);
    expect(() => dockerdArgs("localhost:5000")).toThrow(/PM-15/);
  });

  it("PM-24 the instance URL is never loopback", () => {
    expect(checkInstanceUrl("http://10.0.1.11:30300")).toBe("http://10.0.1.11:30300");
    for (const bad of ["http://localhost:3000", "http://127.0.0.1:30300", "http://[::1]:3000"]) expect(() => checkInstanceUrl(bad)).toThrow(/PM-24/);
    expect(() => checkInstanceUrl("gitea:3000")).toThrow(/http\(s\) URL/);
  });

  it("the dind sidecar is the only privileged container; act_runner is hardened", () => {
    const d = runnerDeployment({
      namespace: "gitea-runner", name: "r", actRunnerImage: images.actRunner, dindImage: images.dind,
      actRunnerResources: SIZES.small.actRunner, dindResources: SIZES.small.dind, instanceUrl: "http://10.0.1.11:30300",
      hostAliases: hosts, registryHost: "registry.platform.internal:5000", dataClaim: "r-data",
      scope: runnerScope("platform"), scriptConfigMap: "r-scripts",
    }) as any;
    const [runner, dind] = d.spec.template.spec.containers;
    expect(dind.securityContext.privileged).toBe(true);
    expect(runner.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(runner.resources.requests).toEqual(SIZES.small.actRunner.requests);
    expect(dind.resources.limits.memory).toBe(SIZES.small.dind.limits.memory);
    // PM-11: both probes can fail (no echo/true).
    expect(runner.readinessProbe.exec.command.join(" ")).toContain("test -s /data/.runner");
    expect(dind.livenessProbe.exec.command).toContain("version");
    expect(() => runnerDeployment({ ...({} as any), actRunnerImage: "gitea/act_runner:latest", dindImage: images.dind })).toThrow(/never latest/);
  });
});

describe("Gitea + Registry + Runner under mocks", () => {
  async function build() {
    const { Gitea } = await import("../components/gitops/gitea");
    const { Registry } = await import("../components/gitops/registry");
    const { Runner } = await import("../components/gitops/runner");
    const c = ctx();
    const gitea = new Gitea("gitea", { ctx: c, adminPassword: pulumi.secret("admin-pass-123"), fingerprintKey: pulumi.secret("fingerprint-key") });
    const registry = new Registry("registry", { ctx: c, password: pulumi.secret("registry-pass-456"), pushPassword: pulumi.secret("push-pass-789") });
    const runner = new Runner("runner", {
      ctx: c,
      org: "platform", giteaClusterIP: gitea.clusterIP, registryClusterIP: registry.clusterIP, jobImage: JOB_IMAGE,
    });
    const config = await unwrap(runner.config);
    await settle();
    return { c, config };
  }

  it("PM-01 the --add-host IP is the gitea-http Service's ClusterIP (an Output), in config.yaml and hostAliases", async () => {
    const { config } = await build();
    const cfg = YAML.parse(config);
    expect(cfg.container.options).toContain("--add-host=gitea-http.gitea.svc.cluster.local:10.43.0.30");
    expect(cfg.container.options).toContain(`--add-host=${REGISTRY_NAME}:10.43.0.50`);
    const cm = find(created, "kubernetes:core/v1:ConfigMap", (m) => m.inputs.metadata.name === RUNNER_CONFIG_MAP);
    expect(YAML.parse(plain(cm.inputs.data)["config.yaml"])).toEqual(cfg);
    const pod = find(created, "kubernetes:apps/v1:Deployment", (d) => d.inputs.metadata.namespace === "gitea-runner").inputs.spec.template.spec;
    expect(plain(pod.hostAliases)).toEqual([
      { ip: "10.43.0.30", hostnames: ["gitea-http.gitea.svc.cluster.local"] },
      { ip: "10.43.0.50", hostnames: [REGISTRY_NAME] },
    ]);
    // Deterministic: keys sorted.
    expect(config.indexOf("cache:")).toBeLessThan(config.indexOf("container:"));
  });

  it("PM-24 GITEA_INSTANCE_URL is the NodePort URL job containers reach, not localhost nor the in-cluster name", async () => {
    const { c } = await build();
    const env = plain(find(created, "kubernetes:apps/v1:Deployment", (d) => d.inputs.metadata.namespace === "gitea-runner").inputs.spec.template.spec.containers[0].env);
    const url = env.find((e: any) => e.name === "GITEA_INSTANCE_URL").value;
    expect(url).toBe(await unwrap(c.endpoints.gitea.runnerUrl));
    expect(url).toBe("http://k3d-platform-server-0:30300");
    expect(isLoopbackReference(url)).toBe(false);
    expect(url).not.toBe(c.endpoints.gitea.internalUrl);
    expect(env.find((e: any) => e.name === "DOCKER_HOST").value).toBe(DOCKER_HOST);
  });

  it("PM-10 #14 no instance-wide token: Gitea gets none, the stack declares no token Secret, the runner reads the org token the bootstrap Job writes", async () => {
    await build();
    // The stack owns neither the old pre-shared Secrets nor the registration Secret (the Job applies it).
    const names = findAll(created, "kubernetes:core/v1:Secret").map((s) => s.inputs.metadata.name);
    for (const n of [LEGACY_GITEA_RUNNER_TOKEN_SECRET, "act-runner-token", RUNNER_TOKEN_SECRET]) expect(names).not.toContain(n);
    const gitea = find(created, "kubernetes:helm.sh/v4:Chart").inputs.values;
    expect(JSON.stringify(plain(gitea))).not.toContain("GITEA_RUNNER_REGISTRATION_TOKEN");
    const pod = plain(find(created, "kubernetes:apps/v1:Deployment", (d) => d.inputs.metadata.namespace === "gitea-runner").inputs.spec.template.spec);
    const env = pod.containers[0].env;
    expect(env.find((e: any) => e.name === "GITEA_RUNNER_REGISTRATION_TOKEN")).toBeUndefined();
    expect(env.find((e: any) => e.name === "GITEA_RUNNER_REGISTRATION_TOKEN_FILE").value).toBe(`${RUNNER_TOKEN_DIR}/token`);
    expect(env.find((e: any) => e.name === "RUNNER_SCOPE").value).toBe("org:platform");
    expect(pod.volumes.find((v: any) => v.name === "registration").secret).toEqual({ secretName: RUNNER_TOKEN_SECRET, optional: true, defaultMode: 0o440 });
    expect(pod.containers[0].command).toEqual(["/sbin/tini", "--", "/bin/bash", "/scripts/runner-start.sh"]);
    const scripts = find(created, "kubernetes:core/v1:ConfigMap", (m) => m.inputs.metadata.name === pod.volumes.find((v: any) => v.name === "scripts").configMap.name);
    expect(plain(scripts.inputs.data)["runner-start.sh"]).toContain("exec \"$RUN_SH\"");
    expect(() => runnerScope("")).toThrow(/issue 14/);
  });

  it("#14 the Docker daemon listens on a unix socket shared by the two containers only: no TCP, no host path", async () => {
    await build();
    const pod = plain(find(created, "kubernetes:apps/v1:Deployment", (d) => d.inputs.metadata.namespace === "gitea-runner").inputs.spec.template.spec);
    const [runner, dind] = pod.containers;
    // First "dockerd": docker-library's dockerd-entrypoint.sh adds its default --host=tcp://0.0.0.0:2375
    // (2376 with TLS) only when the first argument is a flag or there is none.
    expect(dind.args[0]).toBe("dockerd");
    const hosts = dind.args.filter((a: string) => a.startsWith("--host=") || a === "-H");
    expect(hosts).toEqual([`--host=unix://${DOCKER_SOCKET_DIR}/docker.sock`]);
    expect(dind.args.join(" ")).not.toMatch(/tcp:\/\/|fd:\/\/|:237[56]/);
    expect(dind.args).toContain("--group=1000");
    expect(dind.args).toContain("--icc=false");
    // No listener means no port: nothing in the pod spec publishes one.
    for (const c of pod.containers) expect(c.ports ?? []).toEqual([]);
    expect(JSON.stringify(dind.env)).toContain("DOCKER_TLS_CERTDIR");
    const socket = pod.volumes.find((v: any) => v.name === "docker-socket");
    expect(socket.emptyDir).toBeDefined();
    expect(pod.volumes.every((v: any) => v.hostPath === undefined)).toBe(true);
    for (const c of [runner, dind]) expect(c.volumeMounts.find((m: any) => m.name === "docker-socket").mountPath).toBe(DOCKER_SOCKET_DIR);
    expect(runner.env.find((e: any) => e.name === "DOCKER_HOST").value).toBe(DOCKER_HOST);
    // act mounts the socket into job containers at /var/run/docker.sock; jobs stay unprivileged.
    const cfg = YAML.parse(plain(find(created, "kubernetes:core/v1:ConfigMap", (m) => m.inputs.metadata.name === RUNNER_CONFIG_MAP).inputs.data)["config.yaml"]);
    expect(cfg.container.docker_host).toBe(DOCKER_HOST);
    expect(cfg.runner.envs.DOCKER_HOST).toBe(JOB_DOCKER_HOST);
    expect(cfg.container).toMatchObject({ privileged: false, valid_volumes: [], network: "host" });
  });

  it("runner namespace is privileged (dind) with default deny and only the egress it needs", async () => {
    const { c } = await build();
    const ns = find(created, "kubernetes:core/v1:Namespace", (n) => n.inputs.metadata.name === "gitea-runner");
    expect(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const nps = findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy", (n) => n.inputs.metadata.namespace === "gitea-runner");
    expect(nps.map((n) => n.inputs.metadata.name).sort()).toEqual(planPolicyNames(c, "gitea-runner"));
    const all = platformPolicies(c);
    const runner = { namespace: "gitea-runner", labels: { "app.kubernetes.io/name": "act-runner" } };
    expect(allowed(all, runner, { namespace: "gitea", labels: { "app.kubernetes.io/name": "gitea", "app.kubernetes.io/instance": "gitea-chart" } }, 3000)).toBe(true);
    expect(allowed(all, runner, { namespace: "registry", labels: { "app.kubernetes.io/name": "registry" } }, 5002)).toBe(true); // the read-write instance (#14.1)
    for (const port of [443, 80]) expect(allowed(all, runner, { ip: "140.82.112.3" }, port), String(port)).toBe(true);
    // The NodePorts on the node address (PM-24), not on the internet.
    for (const port of [c.endpoints.ports.giteaHttp, c.endpoints.ports.registry]) {
      expect(allowed(all, runner, { ip: "172.18.0.3" }, port), String(port)).toBe(true);
      expect(allowed(all, runner, { ip: "140.82.112.3" }, port), String(port)).toBe(false);
    }
    expect(allowed(all, runner, { ip: "140.82.112.3" }, 22)).toBe(false);
    expect(allowed(all, runner, { namespace: "argocd", labels: { "app.kubernetes.io/name": "argocd-server" } }, 8080)).toBe(false);
    expect(findAll(created, "kubernetes:core/v1:Namespace").filter((n) => n.inputs.metadata.labels["pod-security.kubernetes.io/enforce"] === "privileged")).toHaveLength(1);
  });

  it("PM-15 no image in anything these components build names localhost, 127.0.0.1 or ::1", async () => {
    const { c } = await build();
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) {
        if (k === "image" && typeof x === "string") refs.push(x);
        else walk(x);
      }
    };
    for (const r of created) walk(plain(r.inputs));
    const cfg = YAML.parse(plain(find(created, "kubernetes:core/v1:ConfigMap", (m) => m.inputs.metadata.name === RUNNER_CONFIG_MAP).inputs.data)["config.yaml"]);
    refs.push(...cfg.runner.labels.map((l: string) => l.split("docker://")[1]));
    walk(giteaValues({ publicUrl: c.endpoints.gitea.publicUrl, domain: "git.platform.localhost", sshPort: 30022, resources: SIZES.small.gitea, adminEmail: "a@b.c" }));
    expect(refs).toEqual(expect.arrayContaining([images.actRunner, images.dind, images.registry, JOB_IMAGE]));
    for (const ref of refs) expect(isLoopbackReference(ref), ref).toBe(false);
  });
});
