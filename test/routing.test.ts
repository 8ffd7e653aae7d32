import { describe, expect, it } from "vitest";
import { Gateway } from "@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway";
import { VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService";
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule";
import { PeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication";
import { destinationRule, gateway, GATEWAY_SELECTOR, meshNamespace, peerAuthentication, virtualService } from "../components/mesh/routing";

// The installed models carry the v1beta1 schema, identical to v1 for these kinds.
const asBeta = (o: any) => ({ ...o, apiVersion: o.apiVersion.replace(/\/v1$/, "/v1beta1") });

describe("gateway builder", () => {
  it("PM-37 every server port has a name, number and protocol (name derived when absent)", () => {
    const g = gateway({ name: "platform", namespace: "istio-system", servers: [{ port: { number: 80, protocol: "HTTP" }, hosts: ["*.platform.localhost"] }] });
    expect(g.apiVersion).toBe("networking.istio.io/v1");
    expect(g.spec.servers[0].port).toEqual({ name: "http-80", number: 80, protocol: "HTTP" });
    expect(() => new Gateway(asBeta(g)).validate()).not.toThrow();
    const named = gateway({ name: "g", namespace: "n", servers: [{ port: { name: "web", number: 8080, protocol: "HTTP" }, hosts: ["a.example"] }] });
    expect(named.spec.servers[0].port.name).toBe("web");
  });

  it("PM-37 a server port without number or protocol is refused", () => {
    expect(() => gateway({ name: "g", namespace: "n", servers: [{ port: { protocol: "HTTP" } as any, hosts: ["a"] }] })).toThrow(/port.number is required \(PM-37\)/);
    expect(() => gateway({ name: "g", namespace: "n", servers: [{ port: { number: 80 } as any, hosts: ["a"] }] })).toThrow(/port.protocol is required \(PM-37\)/);
    expect(() => gateway({ name: "g", namespace: "n", servers: [{ hosts: ["a"] } as any] })).toThrow(/PM-37/);
  });

  it("PM-38 Gateways select the ingress gateway installed with the mesh", () => {
    const g = gateway({ name: "g", namespace: "n", servers: [{ port: { number: 80, protocol: "HTTP" }, hosts: ["a"] }] });
    expect(g.spec.selector).toEqual({ istio: "ingressgateway" });
    expect(GATEWAY_SELECTOR).toEqual({ istio: "ingressgateway" });
    expect(() => gateway({ name: "g", namespace: "n", selector: {}, servers: [{ port: { number: 80, protocol: "HTTP" }, hosts: ["a"] }] })).toThrow(/PM-38/);
  });

  it("gateway refuses invalid input", () => {
    const s = { port: { number: 80, protocol: "HTTP" as const }, hosts: ["a"] };
    expect(() => gateway({ name: "g", namespace: "n", servers: [] })).toThrow(/at least one server/);
    expect(() => gateway({ name: "g", namespace: "n", servers: [{ ...s, port: { number: 70000, protocol: "HTTP" } }] })).toThrow(/not a port/);
    expect(() => gateway({ name: "g", namespace: "n", servers: [{ ...s, port: { number: 80, protocol: "FTP" as any } }] })).toThrow(/not one of/);
    expect(() => gateway({ name: "g", namespace: "n", servers: [s, s] })).toThrow(/duplicate server port name http-80/);
    expect(() => gateway({ name: "g", namespace: "n", servers: [{ ...s, hosts: [] }] })).toThrow(/at least one host/);
    expect(() => gateway({ name: "g", namespace: "n", servers: [{ port: { number: 443, protocol: "HTTPS" }, hosts: ["a"] }] })).toThrow(/needs tls/);
    expect(() => gateway({ name: "G", namespace: "n", servers: [s] })).toThrow(/DNS-1123/);
  });
});

describe("virtualService builder", () => {
  const canary = {
    name: "api", namespace: "sample", hosts: ["app.platform.localhost"], gateways: ["istio-system/platform"],
    http: [{
      name: "primary",
      route: [{ host: "api-stable", weight: 100 }, { host: "api-canary", weight: 0 }],
      retries: { attempts: 3, perTryTimeout: "2s" },
      timeout: "10s",
    }],
  };

  it("PM-39 weighted destinations, retries and timeout", () => {
    const vs = virtualService(canary);
    expect(vs.spec.gateways).toEqual(["istio-system/platform"]);
    expect(vs.spec.http[0]).toEqual({
      name: "primary",
      route: [{ destination: { host: "api-stable" }, weight: 100 }, { destination: { host: "api-canary" }, weight: 0 }],
      retries: { attempts: 3, perTryTimeout: "2s", retryOn: "5xx,reset,connect-failure,retriable-status-codes" },
      timeout: "10s",
    });
    expect(() => new VirtualService(asBeta(vs)).validate()).not.toThrow();
    const single = virtualService({ name: "ui", namespace: "n", hosts: ["h"], http: [{ route: [{ host: "svc.ns.svc.cluster.local", port: 80 }] }] });
    expect(single.spec.http[0].route).toEqual([{ destination: { host: "svc.ns.svc.cluster.local", port: { number: 80 } } }]);
    expect(single.spec.gateways).toBeUndefined();
  });

  it("PM-39 weights must sum to 100", () => {
    const bad = (route: any[]) => virtualService({ ...canary, http: [{ name: "primary", route }] });
    expect(() => bad([{ host: "a", weight: 80 }, { host: "b", weight: 10 }])).toThrow(/sum to 100, got 90/);
    expect(() => bad([{ host: "a", weight: 100 }, { host: "b" }])).toThrow(/every destination needs an integer weight/);
    expect(() => bad([{ host: "a" }, { host: "b" }])).toThrow(/every destination needs an integer weight/);
    expect(() => bad([{ host: "a", weight: 50 }])).toThrow(/sum to 100/);
  });

  it("virtualService refuses invalid input", () => {
    expect(() => virtualService({ ...canary, hosts: [] })).toThrow(/at least one host/);
    expect(() => virtualService({ ...canary, http: [] })).toThrow(/at least one http route/);
    expect(() => virtualService({ ...canary, http: [{ route: [] }] })).toThrow(/at least one destination/);
    expect(() => virtualService({ ...canary, http: [{ ...canary.http[0], retries: { attempts: -1, perTryTimeout: "2s" } }] })).toThrow(/attempts/);
    expect(() => virtualService({ ...canary, http: [{ ...canary.http[0], retries: { attempts: 2, perTryTimeout: "" } }] })).toThrow(/perTryTimeout/);
    expect(() => virtualService({ ...canary, http: [{ ...canary.http[0], timeout: "ten seconds" }] })).toThrow(/not a duration/);
    expect(() => virtualService({ ...canary, http: [canary.http[0], canary.http[0]] })).toThrow(/duplicate http route names/);
    expect(() => virtualService({ ...canary, http: [{ route: [{ host: "a", port: 0 }] }] })).toThrow(/not a port/);
  });
});

describe("destinationRule and peerAuthentication builders", () => {
  const dr = {
    name: "api", namespace: "sample", host: "api",
    subsets: [{ name: "stable", labels: { app: "api" } }, { name: "canary", labels: { app: "api" } }],
    connectionPool: { tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 10, maxRequestsPerConnection: 10 } },
    outlierDetection: { consecutive5xxErrors: 5, interval: "30s", baseEjectionTime: "30s" },
  };

  it("PM-39 subsets, connection pool and outlier detection (circuit breaking)", () => {
    const d = destinationRule(dr);
    expect(d.spec.subsets.map((s: any) => s.name)).toEqual(["stable", "canary"]);
    expect(d.spec.trafficPolicy.connectionPool).toEqual(dr.connectionPool);
    expect(d.spec.trafficPolicy.outlierDetection).toEqual({ consecutive5xxErrors: 5, interval: "30s", baseEjectionTime: "30s", maxEjectionPercent: 50 });
    expect(d.spec.trafficPolicy.tls).toEqual({ mode: "ISTIO_MUTUAL" });
    expect(() => new DestinationRule(asBeta(d)).validate()).not.toThrow();
  });

  it("PM-39 PeerAuthentication is STRICT for the namespace", () => {
    const pa = peerAuthentication("sample");
    expect(pa).toMatchObject({ apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", namespace: "sample" }, spec: { mtls: { mode: "STRICT" } } });
    expect(() => new PeerAuthentication({ ...pa, apiVersion: "security.istio.io/v1beta1" } as any).validate()).not.toThrow();
    expect(() => peerAuthentication("")).toThrow(/DNS-1123/);
  });

  it("sidecar namespaces: injection on, Pod Security privileged (istio-init adds NET_ADMIN/NET_RAW, which baseline forbids)", () => {
    expect(meshNamespace("sample").metadata.labels).toMatchObject({ "istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "privileged" });
    expect(() => meshNamespace("Sample")).toThrow(/DNS-1123/);
  });

  it("destinationRule refuses invalid input", () => {
    expect(() => destinationRule({ ...dr, subsets: [dr.subsets[0], dr.subsets[0]] })).toThrow(/duplicate subset/);
    expect(() => destinationRule({ ...dr, subsets: [{ name: "x", labels: {} }] })).toThrow(/needs labels/);
    expect(() => destinationRule({ ...dr, connectionPool: { tcp: { maxConnections: 0 } } })).toThrow(/maxConnections must be an integer >= 1/);
    expect(() => destinationRule({ ...dr, outlierDetection: { ...dr.outlierDetection, consecutive5xxErrors: 0 } })).toThrow(/consecutive5xxErrors/);
    expect(() => destinationRule({ ...dr, outlierDetection: { ...dr.outlierDetection, interval: "soon" } })).toThrow(/not a duration/);
    expect(() => destinationRule({ ...dr, outlierDetection: { ...dr.outlierDetection, baseEjectionTime: undefined as any } })).toThrow(/baseEjectionTime/);
    expect(() => destinationRule({ ...dr, outlierDetection: { ...dr.outlierDetection, maxEjectionPercent: 150 } })).toThrow(/maxEjectionPercent/);
    expect(() => destinationRule({ ...dr, host: "" })).toThrow(/invalid host/);
  });
});
