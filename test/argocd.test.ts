import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { Created, find, findAll, isSecretInput, mocks, plain, outsideSecrets } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import { sizeOf } from "../components/lib/sizes";
import { charts } from "../components/lib/versions";
import { bcryptHash, bcryptVerify } from "../components/lib/hash";
import {
  ADMIN_PASSWORD_MTIME, argoCdNamespace, argoCdValues, ARGOCD_PODS, GUEST_PASSWORD_MTIME,
  repositorySecret, SERVER_SECRET_KEY,
} from "../components/gitops/argocd-values";
import { MTIME_KIND, mtimeCheck, mtimeProvider, rfc3339 } from "../components/gitops/password-mtime";
import { testContext } from "./helpers/context";
import { allowed, planPolicyNames, platformPolicies } from "./helpers/netpol";

const ctx: ClusterContext = testContext("dev");

const ADMIN_HASH = bcryptHash("admin-pw", "argocd-admin");
const GUEST_HASH = bcryptHash("guest-pw", "argocd-guest");
const values = () => argoCdValues({ ctx, adminPasswordHash: ADMIN_HASH, guestPasswordHash: GUEST_HASH });

describe("argoCdValues (pure)", () => {
  it("PM-34 repo-server liveness: timeoutSeconds >= 10, initialDelaySeconds >= 30", () => {
    const probe = values().repoServer.livenessProbe;
    expect(probe.enabled).toBe(true);
    expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(10);
    expect(probe.initialDelaySeconds).toBeGreaterThanOrEqual(30);
  });

  it("PM-11 redis and applicationset probes are on (argo-cd 10.1.1 ships them off)", () => {
    for (const part of [values().redis, values().applicationSet]) {
      expect(part.readinessProbe).toEqual({ enabled: true });
      expect(part.livenessProbe).toEqual({ enabled: true });
    }
  });

  it("PM-34 refuses a shorter liveness timing", () => {
    expect(() => argoCdValues({ ctx, adminPasswordHash: ADMIN_HASH, guestPasswordHash: GUEST_HASH, repoServerLiveness: { timeoutSeconds: 1, initialDelaySeconds: 30 } }))
      .toThrow(/PM-34/);
    expect(() => argoCdValues({ ctx, adminPasswordHash: ADMIN_HASH, guestPasswordHash: GUEST_HASH, repoServerLiveness: { timeoutSeconds: 10, initialDelaySeconds: 10 } }))
      .toThrow(/PM-34/);
  });

  it("PM-05 guest login: account in argocd-cm, read-only role bound, bcrypt password with a fixed mtime", () => {
    const v = values();
    expect(v.configs.cm["accounts.guest"]).toBe("login");
    expect(v.configs.cm["admin.enabled"]).toBe(true);
    expect(v.configs.cm["users.anonymous.enabled"]).toBe("false");
    // No default role (argocd-rbac.test.ts judges the guest's rights with Argo CD's procedure).
    expect(v.configs.rbac["policy.default"]).toBe("");
    expect(v.configs.rbac["policy.csv"]).toContain("g, guest, role:readonly");
    const extra = v.configs.secret.extra;
    expect(bcryptVerify("guest-pw", extra["accounts.guest.password"])).toBe(true);
    expect(extra["accounts.guest.passwordMtime"]).toBe(GUEST_PASSWORD_MTIME);
    expect(v.configs.secret.argocdServerAdminPassword).toBe(ADMIN_HASH);
    expect(v.configs.secret.argocdServerAdminPasswordMtime).toBe(ADMIN_PASSWORD_MTIME);
    expect(ADMIN_PASSWORD_MTIME).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it("PM-05 refuses a plaintext password where a bcrypt hash belongs", () => {
    expect(() => argoCdValues({ ctx, adminPasswordHash: "hunter2", guestPasswordHash: GUEST_HASH })).toThrow(/bcrypt/);
    expect(() => argoCdValues({ ctx, adminPasswordHash: ADMIN_HASH, guestPasswordHash: "guest-pw" })).toThrow(/PM-05/);
  });

  it("url from the endpoints, server.insecure behind the gateway, dex/notifications off, own policies, own redis secret", () => {
    const v = values();
    expect(v.configs.cm.url).toBe(ctx.endpoints.argocd.publicUrl);
    expect(v.configs.cm.url).toBe("https://argocd.platform.localhost:8443");
    expect(v.configs.params["server.insecure"]).toBe(true);
    expect(v.dex.enabled).toBe(false);
    expect(v.notifications.enabled).toBe(false);
    expect(v.global.networkPolicy.create).toBe(false);
    expect(v.redisSecretInit.enabled).toBe(false);
    expect(v.crds.keep).toBe(true);
    expect(v.applicationSet.replicas).toBe(0);
  });

  it("PM-07 every chart container gets the requests/limits of sizes.ts", () => {
    const v = values();
    expect(v.controller.resources).toEqual(sizeOf("small", "argocdController"));
    expect(v.server.resources).toEqual(sizeOf("small", "argocdServer"));
    expect(v.repoServer.resources).toEqual(sizeOf("small", "argocdRepoServer"));
    expect(v.redis.resources).toEqual(sizeOf("small", "argocdRedis"));
    expect(v.applicationSet.resources.limits.memory).toBeDefined();
  });

  it("refuses bad replica counts", () => {
    expect(() => argoCdValues({ ctx, adminPasswordHash: ADMIN_HASH, guestPasswordHash: GUEST_HASH, applicationSetReplicas: -1 })).toThrow(/non-negative/);
  });
});

describe("password mtimes and the signing key (issue 10 item 3)", () => {
  const at = (iso: string) => new Date(iso);
  it("the mtime is taken once per password: the same fingerprint keeps it, a new one takes the time of the change", () => {
    const first = mtimeCheck({}, { fingerprint: "fp-1" }, at("2026-05-01T10:00:00.123Z")).inputs;
    expect(first).toEqual({ kind: MTIME_KIND, fingerprint: "fp-1", mtime: "2026-05-01T10:00:00Z" });
    // Later previews and ups with the same password: the stored time, never "now".
    expect(mtimeCheck(first, { fingerprint: "fp-1" }, at("2026-09-09T09:09:09Z")).inputs.mtime).toBe("2026-05-01T10:00:00Z");
    // A rotation: the time of that up, so sessions issued before it are refused.
    expect(mtimeCheck(first, { fingerprint: "fp-2" }, at("2026-09-09T09:09:09Z")).inputs.mtime).toBe("2026-09-09T09:09:09Z");
    // A stored value Argo CD could not parse is replaced.
    expect(mtimeCheck({ fingerprint: "fp-1", mtime: "yesterday" }, { fingerprint: "fp-1" }, at("2026-09-09T09:09:09Z")).inputs.mtime).toBe("2026-09-09T09:09:09Z");
    expect(() => mtimeCheck({}, { fingerprint: "" }, at("2026-09-09T09:09:09Z"))).toThrow(/empty fingerprint/);
    expect(rfc3339(at("2026-01-02T03:04:05.999Z"))).toBe("2026-01-02T03:04:05Z");
  });

  it("the provider keeps the checked inputs as its state (what a preview shows too)", async () => {
    const checked = (await mtimeProvider.check!({}, { fingerprint: "fp" })).inputs;
    expect((await mtimeProvider.create(checked)).outs).toEqual(checked);
    expect((await mtimeProvider.diff!("id", checked, checked)).changes).toBe(false);
    const rotated = (await mtimeProvider.check!(checked, { fingerprint: "fp-new" })).inputs;
    expect((await mtimeProvider.diff!("id", checked, rotated)).changes).toBe(true);
    expect((await mtimeProvider.update!("id", checked, rotated)).outs).toEqual(rotated);
  });

  it("values: the mtimes from the component; server.secretkey left to argocd-server (never in our apply)", () => {
    const v = argoCdValues({
      ctx, adminPasswordHash: ADMIN_HASH, guestPasswordHash: GUEST_HASH,
      adminPasswordMtime: "2026-05-01T10:00:00Z", guestPasswordMtime: "2026-05-02T10:00:00Z",
    });
    expect(v.configs.secret.argocdServerAdminPasswordMtime).toBe("2026-05-01T10:00:00Z");
    expect(v.configs.secret.extra["accounts.guest.passwordMtime"]).toBe("2026-05-02T10:00:00Z");
    expect(Object.keys(v.configs.secret.extra)).not.toContain(SERVER_SECRET_KEY);
    expect(JSON.stringify(v)).not.toContain(SERVER_SECRET_KEY);
  });
});

describe("Argo CD objects (pure)", () => {
  it("PM-02 namespace annotated linkerd.io/inject: disabled and not labelled for Istio injection", () => {
    const ns = argoCdNamespace(ctx);
    expect(ns.metadata.name).toBe("argocd");
    expect(ns.metadata.annotations).toEqual({ "linkerd.io/inject": "disabled" });
    expect(ns.metadata.labels?.["istio-injection"]).toBeUndefined();
    expect(Object.keys(ns.metadata.labels ?? {}).some((k) => k.startsWith("istio.io/rev"))).toBe(false);
    expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("PM-14 repository secret points at Gitea's in-cluster URL and refuses localhost", () => {
    const url = `${ctx.endpoints.gitea.internalUrl}/platform/platform-apps.git`;
    const s = repositorySecret({ ctx, url, username: "u", password: "p" });
    expect(s.metadata.labels).toEqual({ "argocd.argoproj.io/secret-type": "repository" });
    expect(s.stringData.url).toBe("http://gitea-http.gitea.svc.cluster.local:3000/platform/platform-apps.git");
    for (const bad of ["http://localhost:3000/platform/platform-apps.git", "http://127.0.0.1:30300/a/b.git", "http://[::1]:3000/a/b.git"]) {
      expect(() => repositorySecret({ ctx, url: bad, username: "u", password: "p" })).toThrow(/PM-14/);
    }
  });

  it("network policies (traffic plan): gateway -> server, repo-server -> Gitea and 443, API server on 6443, nothing else", () => {
    const all = platformPolicies(ctx);
    const pod = (labels: Record<string, string>, namespace = "argocd") => ({ namespace, labels });
    const gateway = pod({ istio: "ingressgateway" }, "istio-system");
    const gitea = pod({ "app.kubernetes.io/name": "gitea", "app.kubernetes.io/instance": "gitea-chart" }, "gitea");
    expect(allowed(all, gateway, pod(ARGOCD_PODS.server), 8080)).toBe(true);
    expect(allowed(all, gateway, pod(ARGOCD_PODS.repoServer), 8081)).toBe(false);
    expect(allowed(all, pod(ARGOCD_PODS.repoServer), gitea, 3000)).toBe(true);
    expect(allowed(all, pod(ARGOCD_PODS.controller), gitea, 3000)).toBe(false);
    expect(allowed(all, pod(ARGOCD_PODS.repoServer), { ip: "140.82.112.3" }, 443)).toBe(true);
    expect(allowed(all, pod(ARGOCD_PODS.controller), { ip: "140.82.112.3" }, 443)).toBe(false);
    for (const c of ["controller", "server", "applicationSet"] as const) expect(allowed(all, pod(ARGOCD_PODS[c]), { ip: "172.18.0.3" }, 6443), c).toBe(true);
    expect(allowed(all, pod(ARGOCD_PODS.redis), { ip: "172.18.0.3" }, 6443)).toBe(false);
    expect(allowed(all, pod(ARGOCD_PODS.controller), pod(ARGOCD_PODS.repoServer), 8081)).toBe(true);
    expect(allowed(all, pod(ARGOCD_PODS.server), pod(ARGOCD_PODS.redis), 6379)).toBe(true);
    expect(allowed(all, gitea, pod(ARGOCD_PODS.server), 8080)).toBe(true);
    // Ingress and egress inside the namespace are two policies with two names (they once shared one).
    expect(planPolicyNames(ctx, "argocd")).toEqual(expect.arrayContaining(["default-deny", "allow-dns", "ingress-argocd-to-argocd-repo-server", "egress-argocd-to-argocd-repo-server"]));
  });
});

describe("ArgoCd component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  async function build() {
    const { ArgoCd } = await import("../components/gitops/argocd");
    const argo = new ArgoCd("argocd", {
      ctx, adminPassword: pulumi.secret("admin-plaintext"), guestPassword: pulumi.secret("guest-plaintext"),
      gitUsername: "platform-admin", gitPassword: pulumi.secret("gitea-plaintext"),
    });
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    return argo;
  }

  it("PM-02 the namespace is created, annotated, and the chart is the pinned argo-cd into it", async () => {
    await build();
    const ns = find(created, "kubernetes:core/v1:Namespace");
    expect(ns.inputs.metadata.annotations["linkerd.io/inject"]).toBe("disabled");
    const chart = find(created, "kubernetes:helm.sh/v4:Chart");
    expect(chart.inputs.chart).toBe(charts.argoCd.chart);
    expect(chart.inputs.version).toBe(charts.argoCd.version);
    expect(chart.inputs.repositoryOpts.repo).toBe(charts.argoCd.repo);
    expect(chart.inputs.namespace).toBe("argocd");
  });

  it("PM-05 chart values carry bcrypt hashes as secrets, never the plaintext passwords", async () => {
    await build();
    const chart = find(created, "kubernetes:helm.sh/v4:Chart");
    const raw = JSON.stringify(chart.inputs.values);
    expect(raw).not.toContain("admin-plaintext");
    expect(raw).not.toContain("guest-plaintext");
    // The hashes stay secret: wrapped themselves, or inside a wrapped values object.
    const secretField = chart.inputs.values.configs?.secret?.argocdServerAdminPassword;
    expect(isSecretInput(chart.inputs.values) || isSecretInput(secretField)).toBe(true);
    const guestField = chart.inputs.values.configs?.secret?.extra?.["accounts.guest.password"];
    expect(isSecretInput(chart.inputs.values) || isSecretInput(guestField)).toBe(true);
    const v = plain(chart.inputs.values);
    expect(bcryptVerify("admin-plaintext", v.configs.secret.argocdServerAdminPassword)).toBe(true);
    expect(bcryptVerify("guest-plaintext", v.configs.secret.extra["accounts.guest.password"])).toBe(true);
  });

  it("PM-14 repository secret (secret-type label, in-cluster URL, secret password) and the argocd-redis Secret", async () => {
    await build();
    const secrets = findAll(created, "kubernetes:core/v1:Secret");
    const repo = secrets.find((s) => s.inputs.metadata.labels?.["argocd.argoproj.io/secret-type"] === "repository")!;
    expect(plain(repo.inputs.stringData).url).toBe("http://gitea-http.gitea.svc.cluster.local:3000/platform/platform-apps.git");
    expect(isSecretInput(repo.inputs.stringData) || isSecretInput(repo.inputs.stringData.password)).toBe(true);
    expect(outsideSecrets(repo.inputs, "gitea-plaintext")).toEqual([]);
    const redis = secrets.find((s) => s.inputs.metadata.name === "argocd-redis")!;
    expect(plain(redis.inputs.stringData).auth).toMatch(/^mock-argocd-redis/);
    expect(isSecretInput(redis.inputs.stringData) || isSecretInput(redis.inputs.stringData.auth)).toBe(true);
    expect(findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((c) => c.inputs.metadata.name).sort()).toEqual(planPolicyNames(ctx, "argocd"));
  });
});
