import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Created, find, findAll, isSecretInput, mocks, plain, unwrap } from "./helpers/mocks";
import { SIZES } from "../components/lib/sizes";
import type { ClusterContext } from "../components/lib/context";
import {
  GITEA_ADMIN_CHECKSUM_ANNOTATION, GITEA_ADMIN_SECRET, GITEA_ADMIN_USER, GITEA_RELEASE, LEGACY_GITEA_RUNNER_TOKEN_SECRET, GITEA_SELECTOR,
  GITEA_SERVICE_ACCOUNT, giteaValues, GiteaValuesArgs,
} from "../components/gitops/gitea-values";
import { giteaHttpService, giteaServiceAccount } from "../components/gitops/gitea";
import { allowed, planPolicyNames, platformPolicies } from "./helpers/netpol";
import { testContext } from "./helpers/context";
import { settle as settleMocks } from "./helpers/mocks";
import { keyedHash } from "../components/lib/secrets";

const created: Created[] = [];
beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
beforeEach(() => { created.length = 0; });

const ctx = (): ClusterContext => testContext("dev");

const base: GiteaValuesArgs = {
  publicUrl: "http://git.platform.localhost:8080", domain: "git.platform.localhost", sshPort: 30022,
  resources: SIZES.small.gitea, adminEmail: "platform-admin@platform.localhost",
};

const settle = () => settleMocks(5);

describe("giteaValues (pure)", () => {
  it("SQLite by default: every bundled database/cache subchart is off, Recreate, PVC, explicit resources", () => {
    const v = giteaValues(base) as any;
    for (const sub of ["postgresql-ha", "postgresql", "valkey-cluster", "valkey"]) expect(v[sub].enabled, sub).toBe(false);
    expect(v.gitea.config.database.DB_TYPE).toBe("sqlite3");
    expect(v.gitea.config.queue.TYPE).toBe("level");
    expect(v.strategy).toEqual({ type: "Recreate" });
    expect(v.persistence).toMatchObject({ enabled: true, create: true, size: "10Gi" });
    expect(v.resources.requests).toEqual(SIZES.small.gitea.requests);
    expect(v.initContainers.resources.limits.memory).toBe(SIZES.small.gitea.limits.memory);
  });

  it("hardened config: install lock, no self-registration, sign-in to view, Actions on, ROOT_URL is the public URL", () => {
    const c = (giteaValues(base) as any).gitea.config;
    expect(c.security.INSTALL_LOCK).toBe(true);
    expect(c.service.DISABLE_REGISTRATION).toBe(true);
    expect(c.service.REQUIRE_SIGNIN_VIEW).toBe(true);
    expect(c.actions.ENABLED).toBe(true);
    expect(c.server.ROOT_URL).toBe("http://git.platform.localhost:8080/");
    expect(c.server.DOMAIN).toBe("git.platform.localhost");
    expect(c.webhook.ALLOWED_HOST_LIST.split(",")).toContain("private");
    expect((giteaValues({ ...base, requireSigninView: false }) as any).gitea.config.service.REQUIRE_SIGNIN_VIEW).toBe(false);
  });

  it("PM-19 every repository Gitea creates starts on main", () => {
    expect((giteaValues(base) as any).gitea.config.repository.DEFAULT_BRANCH).toBe("main");
  });

  it("PM-09 admin comes from the stack's Secret, never the chart's default password", () => {
    const admin = (giteaValues(base) as any).gitea.admin;
    expect(admin.existingSecret).toBe(GITEA_ADMIN_SECRET);
    expect(admin.password).toBe("");
    expect(admin.passwordMode).toBe("keepUpdated");
  });

  it("issue 10: the admin password's fingerprint is a pod annotation, so a rotation is a new pod whose init container applies it", () => {
    const v = giteaValues({ ...base, adminPasswordChecksum: "0123abcd" }) as any;
    expect(v.gitea.podAnnotations).toEqual({ [GITEA_ADMIN_CHECKSUM_ANNOTATION]: "0123abcd" });
    // keepUpdated is what makes a new pod apply the Secret's password (initialOnly* would not).
    expect(v.gitea.admin.passwordMode).toBe("keepUpdated");
    expect((giteaValues(base) as any).gitea.podAnnotations).toBeUndefined();
  });

  it("PM-10 #14 Gitea gets no pre-shared token: it would be instance-wide (owner 0, repo 0)", () => {
    const v = giteaValues(base) as any;
    expect(JSON.stringify(v)).not.toContain("GITEA_RUNNER_REGISTRATION_TOKEN");
    expect(v.deployment?.env ?? []).toEqual([]);
  });

  it("restricted Pod Security: every chart container is non-root, no escalation, no capabilities, seccomp", () => {
    const v = giteaValues(base) as any;
    expect(v.containerSecurityContext).toMatchObject({
      runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
    });
    expect(v.podSecurityContext.fsGroup).toBe(1000);
    expect(v.image.rootless).toBe(true);
  });

  it("PM-11 readiness exercises /api/healthz over HTTP", () => {
    const g = (giteaValues(base) as any).gitea;
    expect(g.readinessProbe.httpGet).toEqual({ path: "/api/healthz", port: "http" });
    expect(g.livenessProbe.initialDelaySeconds).toBeLessThan(200);
  });

  it("refuses bad input with clear errors", () => {
    expect(() => giteaValues({ ...base, publicUrl: "http://localhost:3000" })).toThrow(/loopback/);
    expect(() => giteaValues({ ...base, publicUrl: "git.example.com" })).toThrow(/http\(s\) URL/);
    expect(() => giteaValues({ ...base, adminEmail: "admin" })).toThrow(/e-mail/);
    expect(() => giteaValues({ ...base, storageSize: "10GB" })).toThrow(/storageSize/);
    expect(() => giteaValues({ ...base, domain: "Not A Host" })).toThrow(/host name/);
    expect(() => giteaValues({ ...base, webhookAllowedHosts: ["a,b"] })).toThrow(/one word/);
    expect(() => giteaValues({ ...base, resources: { requests: { cpu: "1", memory: "" }, limits: { memory: "" } } })).toThrow(/memory/);
  });
});

/**
 * Which ServiceAccount the chart's pod runs as, and whether the chart writes one, as its 12.x
 * templates decide: templates/gitea/deployment.yaml sets serviceAccountName only
 * `if (or .Values.serviceAccount.create .Values.serviceAccount.name)` (name from _helpers.tpl
 * gitea.serviceAccountName: the name or the fullname), templates/gitea/serviceaccount.yaml renders
 * the account (and its automountServiceAccountToken) only `if .Values.serviceAccount.create`,
 * and the pod spec carries no automountServiceAccountToken of its own.
 */
function chartServiceAccount(values: any): { podAccount: string; chartRendersAccount: boolean } {
  const sa = values.serviceAccount ?? {};
  const named = sa.create || sa.name;
  return { podAccount: named ? (sa.name || GITEA_RELEASE) : "default", chartRendersAccount: !!sa.create };
}

describe("Gitea ServiceAccount token", () => {
  it("the pod runs as our ServiceAccount, which mounts no token (the chart ignores automount while create is false)", () => {
    const v = giteaValues(base) as any;
    const chart = chartServiceAccount(v);
    const ours = giteaServiceAccount(ctx());
    expect(chart.podAccount).toBe(ours.metadata.name);
    expect(ours.metadata.name).toBe(GITEA_SERVICE_ACCOUNT);
    expect(ours.metadata.namespace).toBe("gitea");
    expect(ours.automountServiceAccountToken).toBe(false);
    // The chart must not render a second account of the same name (two owners of one object).
    expect(chart.chartRendersAccount).toBe(false);
  });
});

describe("gitea-http Service and policies (pure)", () => {
  it("PM-01 our Service gitea-http is a NodePort with a ClusterIP, selecting the chart's pods by name", () => {
    const c = ctx();
    const svc = giteaHttpService(c) as any;
    expect(svc.metadata).toMatchObject({ name: "gitea-http", namespace: "gitea" });
    expect(svc.spec.type).toBe("NodePort");
    expect(svc.spec.clusterIP).toBeUndefined();
    expect(svc.spec.selector).toEqual({ "app.kubernetes.io/name": "gitea", "app.kubernetes.io/instance": GITEA_RELEASE });
    const http = svc.spec.ports.find((p: any) => p.name === "http");
    expect(http).toMatchObject({ port: 3000, targetPort: "http", nodePort: c.endpoints.ports.giteaHttp });
    expect(svc.spec.ports.find((p: any) => p.name === "ssh")).toMatchObject({ targetPort: "ssh", nodePort: c.endpoints.ports.giteaSsh });
    // The chart names its own (headless) Service <release>-http: no clash with ours.
    expect(`${GITEA_RELEASE}-http`).not.toBe(svc.metadata.name);
  });

  it("network policies (traffic plan): the gateway, Argo CD's repo-server, the runner, the bootstrap Job and NodePort clients in; webhooks out", () => {
    const all = platformPolicies(ctx());
    const gitea = { namespace: "gitea", labels: { ...GITEA_SELECTOR } };
    const from = (namespace: string, labels: Record<string, string>) => ({ namespace, labels });
    expect(allowed(all, from("istio-system", { istio: "ingressgateway" }), gitea, 3000)).toBe(true);
    expect(allowed(all, from("argocd", { "app.kubernetes.io/name": "argocd-repo-server" }), gitea, 3000)).toBe(true);
    expect(allowed(all, from("gitea-runner", { "app.kubernetes.io/name": "act-runner" }), gitea, 3000)).toBe(true);
    expect(allowed(all, from("gitea", { "app.kubernetes.io/name": "bootstrap-repo", "app.kubernetes.io/part-of": "platform" }), gitea, 3000)).toBe(true);
    expect(allowed(all, { ip: "172.18.0.3" }, gitea, 3000)).toBe(true);
    expect(allowed(all, { ip: "172.18.0.3" }, gitea, 2222)).toBe(true);
    expect(allowed(all, from("istio-system", { istio: "ingressgateway" }), gitea, 2222)).toBe(false);
    expect(allowed(all, from("sample-app", { app: "x" }), gitea, 3000)).toBe(false);
    expect(allowed(all, from("argocd", { "app.kubernetes.io/name": "argocd-application-controller" }), gitea, 3000)).toBe(false);
    expect(allowed(all, gitea, from("argocd", { "app.kubernetes.io/name": "argocd-server" }), 8080)).toBe(true);
    expect(allowed(all, gitea, { ip: "140.82.112.3" }, 443)).toBe(false);
  });
});

describe("Gitea component under mocks", () => {
  it("PM-09 registers the namespace, Secrets (secret values), the chart and gitea-http; exports its ClusterIP", async () => {
    const { Gitea } = await import("../components/gitops/gitea");
    const g = new Gitea("gitea", { ctx: ctx(), adminPassword: pulumi.secret("admin-pass-123"), fingerprintKey: pulumi.secret("fingerprint-key") });
    expect(await unwrap(g.clusterIP)).toBe("10.43.12.34");
    expect(await pulumi.isSecret(g.adminPassword)).toBe(true);
    expect(g.adminUser).toBe(GITEA_ADMIN_USER);
    await settle();

    const ns = find(created, "kubernetes:core/v1:Namespace");
    expect(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const admin = find(created, "kubernetes:core/v1:Secret", (c) => c.inputs.metadata.name === GITEA_ADMIN_SECRET);
    expect(isSecretInput(admin.inputs.stringData)).toBe(true);
    expect(plain(admin.inputs.stringData)).toEqual({ username: GITEA_ADMIN_USER, password: "admin-pass-123" });
    expect(findAll(created, "kubernetes:core/v1:Secret", (c) => c.inputs.metadata.name === LEGACY_GITEA_RUNNER_TOKEN_SECRET)).toEqual([]);

    const chart = find(created, "kubernetes:helm.sh/v4:Chart");
    expect(chart.inputs.name).toBe(GITEA_RELEASE);
    expect(JSON.stringify(plain(chart.inputs))).not.toContain("admin-pass-123");
    // The keyed fingerprint of the password, not secret (so the values stay readable in diffs).
    expect(chart.inputs.values.gitea.podAnnotations[GITEA_ADMIN_CHECKSUM_ANNOTATION])
      .toBe(keyedHash("fingerprint-key", "gitea-admin-password", "admin-pass-123").slice(0, 32));
    expect(chart.inputs.chart).toBe("gitea");
    expect(chart.inputs.namespace).toBe("gitea");
    expect(chart.inputs.values.gitea.config.repository.DEFAULT_BRANCH).toBe("main");
    expect(chart.inputs.values.gitea.config.server.ROOT_URL).toBe("https://git.platform.localhost:8443/");

    const sa = find(created, "kubernetes:core/v1:ServiceAccount");
    expect(sa.inputs.automountServiceAccountToken).toBe(false);
    expect(chartServiceAccount(chart.inputs.values).podAccount).toBe(sa.inputs.metadata.name);

    const svc = find(created, "kubernetes:core/v1:Service");
    expect(svc.inputs.metadata.name).toBe("gitea-http");
    // The namespace's whole share of the traffic plan, the bootstrap Job's included.
    expect(findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((c) => c.inputs.metadata.name).sort()).toEqual(planPolicyNames(ctx(), "gitea"));
  });
});
