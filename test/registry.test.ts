import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Created, find, findAll, isSecretInput, mocks, plain, unwrap } from "./helpers/mocks";
import { isLoopbackReference, REGISTRY_PUSH_USER, REGISTRY_USER } from "../components/lib/endpoints";
import { bcryptVerify } from "../components/lib/hash";
import { pullPolicyFor } from "../components/lib/k8s";
import { SIZES } from "../components/lib/sizes";
import { images } from "../components/lib/versions";
import type { ClusterContext } from "../components/lib/context";
import {
  dockerConfigJson, pullSecret, REGISTRY_HTPASSWD_SECRET, REGISTRY_PUSH_HTPASSWD_SECRET, REGISTRY_PULL_SECRET, registryDeployment, registryImage,
} from "../components/gitops/registry";
import { testContext } from "./helpers/context";
import { allowed, planPolicyNames, platformPolicies } from "./helpers/netpol";
import { settle as settleMocks } from "./helpers/mocks";

const created: Created[] = [];
beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
beforeEach(() => { created.length = 0; });

const ctx = (env: "dev" | "oci" = "dev"): ClusterContext => testContext(env);
const settle = () => settleMocks(5);
const HOST = "registry.platform.internal:5000";

describe("pull secret builders (pure)", () => {
  it("PM-13 dockerConfigJson carries user, password and the base64 auth for the registry host", () => {
    const doc = JSON.parse(dockerConfigJson(HOST, REGISTRY_USER, "s3cret"));
    expect(Object.keys(doc.auths)).toEqual([HOST]);
    expect(doc.auths[HOST]).toEqual({ username: REGISTRY_USER, password: "s3cret", auth: Buffer.from(`${REGISTRY_USER}:s3cret`).toString("base64") });
  });

  it("PM-13 pullSecret is a kubernetes.io/dockerconfigjson Secret named for imagePullSecrets, its content secret", async () => {
    const s = pullSecret("sample-app", HOST, REGISTRY_USER, pulumi.secret("s3cret")) as any;
    expect(s.type).toBe("kubernetes.io/dockerconfigjson");
    expect(s.metadata).toEqual({ name: REGISTRY_PULL_SECRET, namespace: "sample-app" });
    const content = s.stringData[".dockerconfigjson"];
    expect(await pulumi.isSecret(content)).toBe(true);
    expect(JSON.parse(await unwrap(content)).auths[HOST].username).toBe(REGISTRY_USER);
  });

  it("PM-15 builders refuse loopback hosts and other bad input", () => {
    for (const bad of ["localhost:5000", "127.0.0.1:30500", "[::1]:5000"]) {
      expect(() => dockerConfigJson(bad, REGISTRY_USER, "p")).toThrow();
      expect(() => pullSecret("ns", bad, REGISTRY_USER, "p")).toThrow();
    }
    expect(() => dockerConfigJson("http://registry:5000", REGISTRY_USER, "p")).toThrow(/without scheme/);
    expect(() => dockerConfigJson(HOST, "bad user", "p")).toThrow(/invalid user/);
    expect(() => dockerConfigJson(HOST, REGISTRY_USER, "")).toThrow(/empty password/);
    expect(() => pullSecret("Bad_NS", HOST, REGISTRY_USER, "p")).toThrow(/invalid namespace/);
  });

  it("PM-04 registry-hosted images are named by endpoints.registry.host; mutable tags pull Always", () => {
    for (const env of ["dev", "oci"] as const) {
      const ep = ctx(env).endpoints;
      const image = registryImage(ep, "platform/sample-api", "1.2.3");
      expect(image).toBe(`${ep.registry.host}/platform/sample-api:1.2.3`);
      expect(isLoopbackReference(image)).toBe(false);
      expect(pullPolicyFor(registryImage(ep, "platform/sample-api", "main"))).toBe("Always");
    }
    expect(() => registryImage(ctx().endpoints, "platform/sample-api", "latest")).toThrow(/never latest/);
    expect(() => registryImage(ctx().endpoints, "Platform/API", "1.0.0")).toThrow(/invalid repository/);
    expect(() => registryImage({ registry: { ...ctx().endpoints.registry, host: "localhost:5005" } }, "app", "1.0.0")).toThrow(/PM-15/);
  });
});

describe("registryDeployment (pure)", () => {
  const d = registryDeployment({ namespace: "registry", image: images.registry, resources: SIZES.standard.registry, port: 5000, pushPort: 5002 }) as any;
  const [c, p] = d.spec.template.spec.containers;
  const envOf = (x: any) => Object.fromEntries(x.env.map((e: any) => [e.name, e.value]));
  const env = envOf(c);
  const pushEnv = envOf(p);

  it("PM-13 htpasswd auth on, from the mounted Secret; deletes enabled on the writer only", () => {
    for (const e of [env, pushEnv]) {
      expect(e.REGISTRY_AUTH).toBe("htpasswd");
      expect(e.REGISTRY_AUTH_HTPASSWD_PATH).toBe("/auth/htpasswd");
      expect(e.REGISTRY_AUTH_HTPASSWD_REALM).toBeTruthy();
    }
    expect(pushEnv.REGISTRY_STORAGE_DELETE_ENABLED).toBe("true");
    expect(env.REGISTRY_STORAGE_DELETE_ENABLED).toBeUndefined();
    expect(d.spec.template.spec.volumes).toContainEqual({ name: "auth", secret: { secretName: REGISTRY_HTPASSWD_SECRET } });
    expect(d.spec.template.spec.volumes).toContainEqual({ name: "auth-push", secret: { secretName: REGISTRY_PUSH_HTPASSWD_SECRET } });
  });

  it("#14.1 two instances over one volume: `registry` read-only with the pull htpasswd, `registry-push` read-write with the push htpasswd", () => {
    expect([c.name, p.name]).toEqual(["registry", "registry-push"]);
    expect(JSON.parse(env.REGISTRY_STORAGE_MAINTENANCE_READONLY)).toEqual({ enabled: true });
    expect(pushEnv.REGISTRY_STORAGE_MAINTENANCE_READONLY).toBeUndefined();
    const mounts = (x: any) => Object.fromEntries(x.volumeMounts.map((m: any) => [m.mountPath, m]));
    expect(mounts(c)["/auth"].name).toBe("auth");
    expect(mounts(p)["/auth"].name).toBe("auth-push");
    expect(mounts(c)["/var/lib/registry"]).toMatchObject({ name: "data", readOnly: true });
    expect(mounts(p)["/var/lib/registry"].name).toBe("data");
    // One pod network: listeners and debug listeners never collide (the image's debug addr is :5001).
    expect([env.REGISTRY_HTTP_ADDR, env.REGISTRY_HTTP_DEBUG_ADDR, pushEnv.REGISTRY_HTTP_ADDR, pushEnv.REGISTRY_HTTP_DEBUG_ADDR]).toEqual([":5000", ":5001", ":5002", ":5003"]);
    expect(p.ports).toEqual([{ name: "push", containerPort: 5002, protocol: "TCP" }]);
    expect(() => registryDeployment({ namespace: "registry", image: images.registry, resources: SIZES.standard.registry, port: 5000, pushPort: 5001 })).toThrow(/collide/);
  });

  it("PM-11 the probe hits / on the named port, which fails with the storage health check", () => {
    expect(c.readinessProbe.httpGet).toEqual({ path: "/", port: "registry" });
    expect(env.REGISTRY_HEALTH_STORAGEDRIVER_ENABLED).toBe("true");
    expect(c.ports).toEqual([{ name: "registry", containerPort: 5000, protocol: "TCP" }]);
  });

  it("hardened: non-root uid, read-only root, PVC with fsGroup, Recreate", () => {
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true });
    expect(d.spec.template.spec.securityContext.fsGroup).toBe(1000);
    expect(d.spec.strategy.type).toBe("Recreate");
    expect(c.resources.requests).toEqual(SIZES.standard.registry.requests);
  });
});

describe("Registry component under mocks", () => {
  it("PM-13 bcrypt htpasswd from the secret password, kept secret; NodePort from the endpoints (PM-08)", async () => {
    const { Registry } = await import("../components/gitops/registry");
    const c = ctx("oci");
    const r = new Registry("registry", { ctx: c, password: pulumi.secret("registry-pass-456"), pushPassword: pulumi.secret("push-pass-789") });
    expect(await unwrap(r.clusterIP)).toBe("10.43.12.34");
    expect(r.host).toBe(c.endpoints.registry.host);
    await settle();

    const secret = find(created, "kubernetes:core/v1:Secret", (s) => s.inputs.metadata.name === REGISTRY_HTPASSWD_SECRET);
    expect(isSecretInput(secret.inputs.stringData)).toBe(true);
    const line: string = plain(secret.inputs.stringData).htpasswd.trim();
    const [user, hash] = line.split(":");
    expect(user).toBe(REGISTRY_USER);
    expect(hash).toMatch(/^\$2y\$10\$/);
    expect(bcryptVerify("registry-pass-456", hash.replace(/^\$2y\$/, "$2a$"))).toBe(true);

    const push = find(created, "kubernetes:core/v1:Secret", (s) => s.inputs.metadata.name === REGISTRY_PUSH_HTPASSWD_SECRET);
    const [pushUser, pushHash] = plain(push.inputs.stringData).htpasswd.trim().split(":");
    expect(pushUser).toBe(REGISTRY_PUSH_USER);
    expect(bcryptVerify("push-pass-789", pushHash.replace(/^\$2y\$/, "$2a$"))).toBe(true);
    expect(plain(secret.inputs.stringData).htpasswd).not.toContain(REGISTRY_PUSH_USER);

    const pushSvc = find(created, "kubernetes:core/v1:Service", (x) => x.inputs.metadata.name === c.endpoints.registry.pushService);
    expect(pushSvc.inputs.spec.type).toBe("ClusterIP");
    expect(pushSvc.inputs.spec.ports).toEqual([{ name: "push", port: 5000, targetPort: "push", protocol: "TCP" }]);
    const svc = find(created, "kubernetes:core/v1:Service", (x) => x.inputs.metadata.name === c.endpoints.registry.service);
    expect(svc.inputs.metadata).toMatchObject({ name: c.endpoints.registry.service, namespace: c.endpoints.registry.namespace });
    expect(svc.inputs.spec.type).toBe("NodePort");
    expect(svc.inputs.spec.ports).toEqual([{ name: "registry", port: 5000, targetPort: "registry", protocol: "TCP", nodePort: c.endpoints.ports.registry }]);

    const ns = find(created, "kubernetes:core/v1:Namespace");
    expect(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const nps = findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((n) => n.inputs.metadata.name).sort();
    expect(nps).toEqual(planPolicyNames(c, "registry"));
    // Pushes from the runner, pulls through the NodePort; nobody else.
    const all = platformPolicies(c);
    const reg = { namespace: "registry", labels: { "app.kubernetes.io/name": "registry" } };
    // #14.1 the runner reaches the read-write instance only; the NodePort (nodes) the read-only one only.
    const runnerPod = { namespace: "gitea-runner", labels: { "app.kubernetes.io/name": "act-runner" } };
    expect(allowed(all, runnerPod, reg, 5002)).toBe(true);
    expect(allowed(all, runnerPod, reg, 5000)).toBe(false);
    // Another node's containerd (a VCN address; the pod's own node is let in by kube-router before any policy).
    expect(allowed(all, { ip: "10.0.1.9" }, reg, 5000)).toBe(true);
    expect(allowed(all, { ip: "10.0.1.9" }, reg, 5002)).toBe(false);
    expect(allowed(all, { namespace: "sample-app", labels: {} }, reg, 5000)).toBe(false);
    const pvc = find(created, "kubernetes:core/v1:PersistentVolumeClaim");
    expect(pvc.inputs.spec.resources.requests.storage).toBe("10Gi");
    // The password never appears outside a secret wrapper.
    const deployment = find(created, "kubernetes:apps/v1:Deployment");
    expect(JSON.stringify(deployment.inputs)).not.toContain("registry-pass-456");
  });

  it("PM-21 dev keeps the PVC workload without a pod securityContext (overlay), oci keeps fsGroup", async () => {
    const { Registry } = await import("../components/gitops/registry");
    new Registry("registry", { ctx: ctx("dev"), password: pulumi.secret("registry-pass-456"), pushPassword: pulumi.secret("push-pass-789") });
    await settle();
    expect(find(created, "kubernetes:apps/v1:Deployment").inputs.spec.template.spec.securityContext).toBeUndefined();
    created.length = 0;
    new Registry("registry-oci", { ctx: ctx("oci"), password: pulumi.secret("registry-pass-456"), pushPassword: pulumi.secret("push-pass-789") });
    await settle();
    expect(find(created, "kubernetes:apps/v1:Deployment").inputs.spec.template.spec.securityContext.fsGroup).toBe(1000);
  });

  it("refuses a malformed storage size", async () => {
    const { Registry } = await import("../components/gitops/registry");
    expect(() => new Registry("bad", { ctx: ctx(), password: "x", pushPassword: "y", storageSize: "10GB" })).toThrow(/storageSize/);
  });
});
