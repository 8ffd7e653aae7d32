import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { Created, findAll, mocks } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import { sizeOf } from "../components/lib/sizes";
import { charts } from "../components/lib/versions";
import {
  gatewayValues, istioBaseValues, istioNamespace, istiodValues, ISTIOD_PODS, platformRoutes, PLATFORM_GATEWAY, SIDECAR_NAMESPACE_POD_SECURITY,
} from "../components/mesh/istio";
import { GATEWAY_SELECTOR } from "../components/mesh/routing";
import { testContext } from "./helpers/context";
import { allowed, platformPolicies } from "./helpers/netpol";
import { settle as settleMocks } from "./helpers/mocks";

const ctx: ClusterContext = testContext("dev");
const settle = () => settleMocks(10);

describe("Istio values", () => {
  it("PM-38 the ingress gateway pods carry the label Gateways select", () => {
    const v = gatewayValues(ctx) as any;
    expect(v.labels.istio).toBe(GATEWAY_SELECTOR.istio);
    const gw = platformRoutes(ctx).find((o) => o.kind === "Gateway")!;
    for (const [k, val] of Object.entries(gw.spec.selector)) expect(v.labels[k]).toBe(val);
  });

  it("gateway Service: LoadBalancer, every port named, NodePorts from the port plan", () => {
    const svc = (gatewayValues(ctx) as any).service;
    expect(svc.type).toBe("LoadBalancer");
    for (const p of svc.ports) expect(p.name).toMatch(/^[a-z0-9-]+$/);
    const byName = Object.fromEntries(svc.ports.map((p: any) => [p.name, p]));
    expect(byName.http2).toMatchObject({ port: 80, targetPort: 80, nodePort: ctx.endpoints.ports.gatewayHttp });
    expect(byName.https).toMatchObject({ port: 443, targetPort: 443, nodePort: ctx.endpoints.ports.gatewayHttps });
    expect(byName["status-port"].port).toBe(15021);
  });

  it("resources for istiod, the gateway and every sidecar come from sizes.ts; one istiod, no autoscaling", () => {
    const d = istiodValues(ctx) as any;
    expect(d.resources).toEqual(sizeOf("small", "istiod"));
    expect(d.global.proxy.resources).toEqual(sizeOf("small", "istioProxy"));
    expect(d.autoscaleEnabled).toBe(false);
    expect(d.meshConfig.enablePrometheusMerge).toBe(true);
    const g = gatewayValues(ctx) as any;
    expect(g.resources).toEqual(sizeOf("small", "istioGateway"));
    expect(g.autoscaling.enabled).toBe(false);
  });

  it("PM-37 the platform Gateway names its port; UI VirtualServices use hostnames and FQDNs from the endpoints object", () => {
    const objs = platformRoutes(ctx);
    const gw = objs.find((o) => o.kind === "Gateway" && o.metadata.name === "platform-http")!;
    expect(gw.spec.servers[0].port).toEqual({ name: "http", number: 80, protocol: "HTTP" });
    expect(gw.spec.servers[0].hosts).toEqual(["*.platform.localhost"]);
    const https = objs.find((o) => o.kind === "Gateway" && o.metadata.name === "platform")!;
    expect(https.spec.servers.map((s: any) => s.port.name)).toEqual(["https-gitea", "https-argocd", "https-kiali", "https-app"]);
    const vs = Object.fromEntries(objs.filter((o) => o.kind === "VirtualService" && o.metadata.name !== "https-redirect").map((o) => [o.metadata.name, o.spec]));
    const ep = ctx.endpoints;
    const dest = (name: string) => vs[name].http[0].route[0].destination;
    expect(vs.gitea.hosts).toEqual([ep.hostnames.git]);
    expect(dest("gitea")).toEqual({ host: ep.gitea.fqdn, port: { number: 3000 } });
    expect(vs.argocd.hosts).toEqual([ep.hostnames.argocd]);
    expect(dest("argocd")).toEqual({ host: "argocd-server.argocd.svc.cluster.local", port: { number: 80 } });
    expect(vs.kiali.hosts).toEqual([ep.hostnames.kiali]);
    expect(dest("kiali")).toEqual({ host: "kiali.istio-system.svc.cluster.local", port: { number: 20001 } });
    // #13: Prometheus has no authentication of its own: not on the gateway.
    expect(vs.prometheus).toBeUndefined();
    expect(Object.keys(vs).sort()).toEqual(["argocd", "gitea", "kiali"]);
    expect(JSON.stringify(objs)).not.toContain("prometheus");
    for (const spec of Object.values(vs)) expect(spec.gateways).toEqual([PLATFORM_GATEWAY]);
  });

  it("no churn: base and istiod both render the validating webhook with failurePolicy Fail (pulumi-kubernetes#2210)", () => {
    // Both templates read top-level base.validationFailurePolicy (not global.*, not
    // _internal_defaults_do_not_set.*), else Ignore whenever .Release.IsUpgrade is false, which a
    // helm v4 Chart render always is.
    for (const v of [istioBaseValues(), istiodValues(ctx)] as any[]) {
      expect(v.base.validationFailurePolicy).toBe("Fail");
      expect(v.global?.base).toBeUndefined();
      expect(v._internal_defaults_do_not_set).toBeUndefined();
    }
    expect((istioBaseValues() as any).defaultRevision).toBe("default");
  });

  it("istio-system is baseline (not privileged); sidecar namespaces need privileged for istio-init's NET_ADMIN/NET_RAW", () => {
    expect(istioNamespace().metadata.labels!["pod-security.kubernetes.io/enforce"]).toBe("baseline");
    expect(SIDECAR_NAMESPACE_POD_SECURITY).toBe("privileged");
  });

  it("network policies (traffic plan): xDS from every namespace, webhook and gateway open, scrapes from monitoring", () => {
    const all = platformPolicies(ctx);
    const istiod = { namespace: "istio-system", labels: { ...ISTIOD_PODS } };
    const gw = { namespace: "istio-system", labels: { ...GATEWAY_SELECTOR } };
    const userPod = { namespace: "user-app", labels: { app: "u" } };
    const prometheus = { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server" } };
    // A sidecar anywhere reaches xDS; its own namespace must allow the egress (the sample app's does).
    expect(allowed(all.filter((p) => p.metadata.namespace === "istio-system"), userPod, istiod, 15012)).toBe(true);
    expect(allowed(all, { ip: "172.18.0.3" }, istiod, 15017)).toBe(true);
    expect(allowed(all, { ip: "203.0.113.9" }, gw, 443)).toBe(true);
    expect(allowed(all, { ip: "203.0.113.9" }, gw, 15020)).toBe(false);
    expect(allowed(all, prometheus, gw, 15020)).toBe(true);
    expect(allowed(all, prometheus, istiod, 15014)).toBe(true);
    expect(allowed(all, istiod, { ip: "172.18.0.3" }, 6443)).toBe(true);
    expect(allowed(all, gw, istiod, 15012)).toBe(true);
    expect(allowed(all, gw, { ip: "172.18.0.3" }, 6443)).toBe(false);
  });
});

describe("Istio component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("PM-38 base, istiod and the ingress gateway are installed, pinned, into istio-system, with the platform Gateway", async () => {
    const { Istio } = await import("../components/mesh/istio");
    const istio = new Istio("istio", { ctx });
    await settle();
    const installed = findAll(created, "kubernetes:helm.sh/v4:Chart");
    expect(installed.map((c) => c.inputs.chart).sort()).toEqual(["base", "gateway", "istiod"]);
    for (const c of installed) expect(c.inputs.namespace).toBe("istio-system");
    const gw = installed.find((c) => c.inputs.chart === "gateway")!;
    expect(gw.inputs.version).toBe(charts.istioGateway.version);
    expect(gw.inputs.name).toBe("istio-ingressgateway");
    expect(gw.inputs.values.labels.istio).toBe("ingressgateway");
    expect(installed.find((c) => c.inputs.chart === "istiod")!.inputs.version).toBe(charts.istiod.version);
    expect(installed.find((c) => c.inputs.chart === "base")!.inputs.version).toBe(charts.istioBase.version);
    expect([istio.base, istio.istiod, istio.gateway].every((r) => r instanceof pulumi.Resource)).toBe(true);
    const gateways = findAll(created, "kubernetes:networking.istio.io/v1:Gateway");
    expect(gateways.map((g) => g.inputs.metadata.name).sort()).toEqual(["platform", "platform-http"]);
    for (const g of gateways) expect(g.inputs.spec.selector).toEqual({ istio: "ingressgateway" });
    expect(findAll(created, "kubernetes:networking.istio.io/v1:VirtualService").map((c) => c.inputs.metadata.name).sort())
      .toEqual(["argocd", "gitea", "https-redirect", "kiali"]);
  });

  it("no churn: the base and istiod charts both receive base.validationFailurePolicy Fail", async () => {
    const { Istio } = await import("../components/mesh/istio");
    new Istio("istio", { ctx });
    await settle();
    const installed = findAll(created, "kubernetes:helm.sh/v4:Chart");
    for (const name of ["base", "istiod"]) {
      expect(installed.find((c) => c.inputs.chart === name)!.inputs.values.base.validationFailurePolicy, name).toBe("Fail");
    }
  });
});
