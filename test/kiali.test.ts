import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { Created, find, findAll, isSecretInput, mocks, plain } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import { sizeOf } from "../components/lib/sizes";
import { charts } from "../components/lib/versions";
import {
  KIALI_CHART_VIEWER_RBAC, KIALI_VIEWER, kialiViewerObjects, kialiHealthPath, kialiRequiredRbac, kialiSigningKeySecret, kialiValues, KIALI_PODS,
  KIALI_SIGNING_KEY_KEY, KIALI_SIGNING_KEY_LENGTH, KIALI_SIGNING_KEY_LENGTHS, KIALI_SIGNING_KEY_SECRET,
} from "../components/mesh/kiali";
import { testContext } from "./helpers/context";
import { allowed, platformPolicies } from "./helpers/netpol";
import { settle as settleMocks } from "./helpers/mocks";

const ctx: ClusterContext = testContext("dev");
const settle = () => settleMocks(10);

describe("Kiali values", () => {
  it("PM-35 the chart version's read-only ClusterRole covers networking, security, telemetry and extensions istio.io", () => {
    // The record is tied to the pinned chart: a version bump fails here until the role is re-read upstream.
    expect(charts.kiali.version).toBe(KIALI_CHART_VIEWER_RBAC.chartVersion);
    for (const need of kialiRequiredRbac()) {
      for (const group of need.apiGroups) {
        const rule = KIALI_CHART_VIEWER_RBAC.rules.find((r) => (r.apiGroups as readonly string[]).includes(group));
        expect(rule, `no rule for ${group}`).toBeDefined();
        expect(rule!.resources).toContain("*");
        for (const verb of need.verbs) expect(rule!.verbs).toContain(verb);
      }
    }
    expect(kialiRequiredRbac().flatMap((r) => r.apiGroups).sort())
      .toEqual(["extensions.istio.io", "networking.istio.io", "security.istio.io", "telemetry.istio.io"]);
  });

  it("#13 Kiali is not anonymous: token login, read-only UI, no logs tab (the chart then drops pods/log from Kiali's own role)", () => {
    for (const env of ["dev", "oci", "homelab"] as const) {
      const v = kialiValues({ ctx: testContext(env) }) as any;
      expect(v.auth.strategy, env).toBe("token");
      expect(v.deployment.view_only_mode).toBe(true);
      expect(v.deployment.cluster_wide_access).toBe(true);
      expect(v.kiali_feature_flags.disabled_features).toContain("logs-tab");
    }
  });

  it("#13 the kiali-viewer identity reads what Kiali shows and nothing else: no Secrets, ConfigMaps, pod logs, exec, port-forward or writes", () => {
    const objs = kialiViewerObjects();
    const [sa, role, binding] = objs as any[];
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceAccount/kiali-viewer", "ClusterRole/platform-kiali-viewer", "ClusterRoleBinding/platform-kiali-viewer",
    ]);
    expect(sa.metadata.namespace).toBe("istio-system");
    expect(sa.automountServiceAccountToken).toBe(false);
    // Not the chart's own ClusterRole (named kiali-viewer, role-viewer.yaml), which is Kiali's.
    expect(role.metadata.name).not.toBe("kiali-viewer");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: KIALI_VIEWER.clusterRole });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "kiali-viewer", namespace: "istio-system" }]);
    const forbidden = ["secrets", "configmaps", "pods/log", "pods/exec", "pods/attach", "pods/portforward", "serviceaccounts/token"];
    for (const r of role.rules) {
      expect(r.verbs, JSON.stringify(r)).toEqual(["get", "list", "watch"]);
      for (const f of forbidden) expect(r.resources, JSON.stringify(r)).not.toContain(f);
      if (r.resources.includes("*")) expect(r.apiGroups.every((g: string) => g.endsWith(".istio.io")), JSON.stringify(r)).toBe(true);
      expect(r.apiGroups).not.toContain("*");
    }
    // Kiali's token login lists namespaces with the token (token_auth_controller.go).
    expect(role.rules.some((r: any) => r.apiGroups.includes("") && r.resources.includes("namespaces") && r.verbs.includes("list"))).toBe(true);
  });

  it("PM-35 web root explicit and the probe path matches it; liveness starts at 30 s or later", () => {
    const v = kialiValues({ ctx }) as any;
    expect(v.server.web_root).toBe("/");
    expect(kialiHealthPath(v.server.web_root)).toBe("/healthz");
    expect(kialiHealthPath("/kiali")).toBe("/kiali/healthz");
    expect(kialiHealthPath("/kiali/")).toBe("/kiali/healthz");
    expect(v.deployment.probes.liveness.initial_delay_seconds).toBeGreaterThanOrEqual(30);
    expect(v.deployment.probes.startup.initial_delay_seconds).toBeGreaterThanOrEqual(30);
    expect(() => kialiValues({ ctx, livenessDelaySeconds: 5 })).toThrow(/>= 30 \(PM-35\)/);
    expect(() => kialiValues({ ctx, webRoot: "kiali" })).toThrow(/must start with \//);
  });

  it("Prometheus from the endpoints object, Grafana and tracing off, resources from sizes.ts", () => {
    const v = kialiValues({ ctx }) as any;
    expect(v.external_services.prometheus.url).toBe(ctx.endpoints.prometheus.internalUrl);
    expect(v.external_services.grafana.enabled).toBe(false);
    expect(v.external_services.tracing.enabled).toBe(false);
    expect(v.deployment.resources).toEqual(sizeOf("small", "kiali"));
  });

  it("no churn: the chart gets a reference to our signing key, so it never renders randAlphaNum (kiali/helm-charts#303)", () => {
    {
      const v = kialiValues({ ctx }) as any;
      // templates/_helpers.tpl falls back to randAlphaNum 32 when this is empty.
      expect(v.login_token.signing_key).toBe(`secret:${KIALI_SIGNING_KEY_SECRET}:${KIALI_SIGNING_KEY_KEY}`);
      // The chart's extract-secret helper only mounts values matching ^secret:.+:.+ (3 parts).
      expect(v.login_token.signing_key.split(":")).toHaveLength(3);
      // No render-time lookup of istio-system's Secrets; no namespace lookup (cluster-wide access).
      expect(v.clustering.autodetect_secrets.enabled).toBe(false);
      expect(v.deployment.cluster_wide_access).toBe(true);
    }
    const secret = kialiSigningKeySecret("k".repeat(KIALI_SIGNING_KEY_LENGTH));
    expect(secret.metadata).toMatchObject({ name: KIALI_SIGNING_KEY_SECRET, namespace: "istio-system" });
    expect(Object.keys(secret.stringData)).toEqual([KIALI_SIGNING_KEY_KEY]);
    // Kiali refuses any other length for the token strategy (config/config.go validateSigningKey).
    expect(KIALI_SIGNING_KEY_LENGTHS).toContain(KIALI_SIGNING_KEY_LENGTH);
  });

  it("network policies (traffic plan): gateway in on 20001, Prometheus and istiod out", () => {
    const all = platformPolicies(ctx);
    const kiali = { namespace: "istio-system", labels: { ...KIALI_PODS } };
    const prometheus = { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server" } };
    expect(allowed(all, { namespace: "istio-system", labels: { istio: "ingressgateway" } }, kiali, 20001)).toBe(true);
    expect(allowed(all, kiali, prometheus, 9090)).toBe(true);
    expect(allowed(all, kiali, { namespace: "istio-system", labels: { app: "istiod" } }, 15014)).toBe(true);
    expect(allowed(all, kiali, { ip: "172.18.0.3" }, 6443)).toBe(true);
    expect(allowed(all, prometheus, kiali, 9090)).toBe(true);
    expect(allowed(all, { namespace: "sample-app", labels: { app: "x" } }, kiali, 20001)).toBe(false);
  });
});

describe("Kiali component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("installs the pinned kiali-server chart into istio-system with our values", async () => {
    const { Kiali } = await import("../components/mesh/kiali");
    const k = new Kiali("kiali", { ctx });
    await settle();
    expect(k.healthPath).toBe("/healthz");
    const chart = find(created, "kubernetes:helm.sh/v4:Chart");
    expect(chart.inputs).toMatchObject({ chart: "kiali-server", version: charts.kiali.version, namespace: "istio-system", name: "kiali" });
    expect(chart.inputs.values.deployment.view_only_mode).toBe(true);
    expect(chart.inputs.values.auth.strategy).toBe("token");
    // The viewer identity, registered with Kiali.
    for (const [type, name] of [["kubernetes:core/v1:ServiceAccount", "kiali-viewer"], ["kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "platform-kiali-viewer"], ["kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "platform-kiali-viewer"]]) {
      expect(find(created, type, (c) => c.inputs.metadata.name === name).inputs.metadata.name).toBe(name);
    }
    // Its flows are istio-system's, registered by the Istio component (traffic.ts).
    expect(findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy")).toHaveLength(0);
  });

  it("no churn: the signing key is generated once (RandomPassword, no keepers), kept secret, and only referenced by the chart", async () => {
    const { Kiali } = await import("../components/mesh/kiali");
    new Kiali("kiali", { ctx });
    await settle();
    const key = find(created, "random:index/randomPassword:RandomPassword");
    expect(key.inputs.length).toBe(KIALI_SIGNING_KEY_LENGTH);
    // Alphanumeric only: one byte per character, so the length is the byte length Kiali checks.
    expect(key.inputs.special).toBe(false);
    expect(key.inputs.keepers).toBeUndefined();
    const secret = find(created, "kubernetes:core/v1:Secret", (c) => c.inputs.metadata.name === KIALI_SIGNING_KEY_SECRET);
    expect(secret.inputs.metadata.namespace).toBe("istio-system");
    expect(isSecretInput(secret.inputs.stringData[KIALI_SIGNING_KEY_KEY]) || isSecretInput(secret.inputs.stringData)).toBe(true);
    const generated = `mock-${key.name}`;
    expect(plain(secret.inputs.stringData)[KIALI_SIGNING_KEY_KEY]).toBe(generated);
    const chart = find(created, "kubernetes:helm.sh/v4:Chart");
    expect(chart.inputs.values.login_token.signing_key).toBe(`secret:${KIALI_SIGNING_KEY_SECRET}:${KIALI_SIGNING_KEY_KEY}`);
    // The key itself reaches no input but the Secret's, and there only wrapped as a secret.
    const plainly = created.filter((c) => c !== secret && JSON.stringify(plain(c.inputs)).includes(generated));
    expect(plainly.map((c) => `${c.type} ${c.name}`)).toEqual([]);
  });
});
