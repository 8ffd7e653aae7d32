import { describe, expect, it } from "vitest";
import { checkImage, container, isImmutableImage, namespace, pullPolicyFor, service, workloadPorts } from "../components/lib/k8s";
import { allowEgress, allowIngress, defaultDeny } from "../components/lib/network";
import { SIZES } from "../components/lib/sizes";

const base = {
  name: "api", image: "registry.platform.internal:5000/app:1.2.3", resources: SIZES.standard.sampleApi,
  ports: [{ name: "http", containerPort: 8000 }, { name: "metrics", containerPort: 9100 }],
  readiness: { http: { path: "/health/ready", port: "http" } },
} as const;

describe("container builder", () => {
  it("hardened by default: non-root, no escalation, no capabilities, read-only root, seccomp", () => {
    const c = container(base) as any;
    expect(c.securityContext).toEqual({
      runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.resources.requests).toEqual(base.resources.requests);
    expect(c.resources.limits.memory).toBe(base.resources.limits.memory);
  });

  it("PM-11 probes exercise the service over HTTP on a named port", () => {
    const c = container(base) as any;
    expect(c.readinessProbe.httpGet).toEqual({ path: "/health/ready", port: "http" });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/health/ready", port: "http" });
    expect(() => container({ ...base, readiness: { http: { path: "/health", port: "web" } } })).toThrow(/probe port "web" is not one of its named ports/);
    expect(() => container({ ...base, readiness: { http: { path: "health", port: "http" } } })).toThrow(/must start with \//);
  });

  it("PM-04 mutable tags are pulled Always, immutable ones IfNotPresent", () => {
    expect(isImmutableImage("registry.platform.internal:5000/app:1.2.3")).toBe(true);
    expect(isImmutableImage("registry.platform.internal:5000/app:3f2a9c1")).toBe(true);
    expect(isImmutableImage("docker.io/library/postgres:17.11")).toBe(false);
    expect(isImmutableImage("app@sha256:abc")).toBe(true);
    expect(pullPolicyFor("registry.platform.internal:5000/app:main")).toBe("Always");
    expect((container({ ...base, image: "registry.platform.internal:5000/app:main" }) as any).imagePullPolicy).toBe("Always");
    expect((container(base) as any).imagePullPolicy).toBe("IfNotPresent");
  });

  it("PM-15 images naming localhost, 127.0.0.1 or ::1 are refused, and so is latest", () => {
    expect(() => checkImage("localhost:5005/app:1.0.0")).toThrow(/PM-15/);
    expect(() => checkImage("127.0.0.1:5000/app:1.0.0")).toThrow(/PM-15/);
    expect(() => checkImage("[::1]:5000/app:1.0.0")).toThrow(/PM-15/);
    expect(() => checkImage("nginx:latest")).toThrow(/never latest/);
    expect(() => checkImage("nginx")).toThrow(/no pinned tag/);
  });

  it("port names must be IANA names and unique", () => {
    expect(() => container({ ...base, ports: [{ name: "HTTP_PORT", containerPort: 1 }] })).toThrow(/IANA/);
    expect(() => container({ ...base, ports: [{ name: "http", containerPort: 1 }, { name: "http", containerPort: 2 }] })).toThrow(/duplicate/);
  });
});

describe("service builder", () => {
  const pod = { containers: [container(base) as any] };

  it("PM-06 targets container ports by name, derived from the workload's own ports", () => {
    const svc = service({ name: "api", namespace: "app", selector: { app: "api" }, ports: workloadPorts(pod), only: ["http"], servicePorts: { http: 80 } });
    expect(svc.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
  });

  it("PM-06 a port the workload does not expose is refused", () => {
    expect(() => service({ name: "api", namespace: "app", selector: { app: "api" }, ports: workloadPorts(pod), only: ["web"] })).toThrow(/no container port named "web"/);
    expect(() => service({ name: "api", namespace: "app", selector: {}, ports: [] })).toThrow(/no named ports/);
  });

  it("PM-08 NodePorts come in by name", () => {
    const svc = service({ name: "r", namespace: "r", selector: { app: "r" }, ports: [{ name: "http", containerPort: 5000 }], type: "NodePort", nodePorts: { http: 30500 } });
    expect(svc.spec.ports[0].nodePort).toBe(30500);
  });
});

describe("namespaces and network policies", () => {
  it("namespace carries enforced Pod Security and optional Istio injection", () => {
    const ns = namespace({ name: "app", podSecurity: "baseline", istioInjection: true });
    expect(ns.metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "baseline", "istio-injection": "enabled" });
    expect(namespace({ name: "x", podSecurity: "restricted" }).metadata.labels!["istio-injection"]).toBeUndefined();
  });

  it("default deny covers ingress and egress for every pod", () => {
    expect(defaultDeny("app").spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("allows name namespaces by their metadata label", () => {
    const ing = allowIngress({ name: "a", namespace: "monitoring", from: [{ namespace: "argo-rollouts" }], ports: [{ port: 9090 }] });
    expect(ing.spec.ingress[0].from[0].namespaceSelector.matchLabels).toEqual({ "kubernetes.io/metadata.name": "argo-rollouts" });
    const eg = allowEgress({ name: "b", namespace: "x", to: [{ cidr: "0.0.0.0/0" }], ports: [{ port: 443 }] });
    expect(eg.spec.egress[0]).toEqual({ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ port: 443, protocol: "TCP" }] });
  });
});
