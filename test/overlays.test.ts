import { describe, expect, it } from "vitest";
import { applyOverlays, dropPvcPodSecurityContext, mountsPvc, readinessHealthPath } from "../components/lib/overlays";
import { container, K8sObject, podSecurityContext } from "../components/lib/k8s";
import { PROFILES } from "../components/lib/profiles";
import { SIZES } from "../components/lib/sizes";

const api = container({
  name: "api", image: "registry.platform.internal:5000/app:1.0.0", resources: SIZES.small.sampleApi,
  ports: [{ name: "http", containerPort: 8000 }],
  readiness: { http: { path: "/health/ready", port: "http" } }, liveness: { http: { path: "/health", port: "http" } },
});

function statefulSet(withClaims: boolean): K8sObject {
  return {
    apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "db", namespace: "app" },
    spec: {
      serviceName: "db", selector: { matchLabels: { app: "db" } },
      template: { metadata: { labels: { app: "db" } }, spec: { securityContext: podSecurityContext(999), containers: [api] } },
      volumeClaimTemplates: withClaims ? [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }] : [],
    },
  };
}

function deployment(volumes: unknown[]): K8sObject {
  return {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "app" },
    spec: { selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } }, spec: { securityContext: podSecurityContext(1000), containers: [api], volumes } } },
  };
}

describe("environment overlays are pure", () => {
  it("PM-21 dev drops the pod securityContext of a StatefulSet with volumeClaimTemplates", () => {
    const base = statefulSet(true);
    const out = dropPvcPodSecurityContext(base);
    expect(out.spec.template.spec.securityContext).toBeUndefined();
    expect(base.spec.template.spec.securityContext.fsGroup).toBe(999);
  });

  it("PM-21 dev drops it for a Deployment mounting a PVC volume, keeps it without one", () => {
    expect(dropPvcPodSecurityContext(deployment([{ name: "d", persistentVolumeClaim: { claimName: "c" } }])).spec.template.spec.securityContext).toBeUndefined();
    const emptyDir = deployment([{ name: "t", emptyDir: {} }]);
    expect(dropPvcPodSecurityContext(emptyDir)).toBe(emptyDir);
    expect(mountsPvc(statefulSet(false))).toBe(false);
  });

  it("PM-21 only the pod-level context goes: container hardening stays", () => {
    const out = dropPvcPodSecurityContext(statefulSet(true));
    expect(out.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it("PM-22 dev rewrites readiness /health/ready to /health, leaves liveness and other paths", () => {
    const base = deployment([]);
    const out = readinessHealthPath(base);
    expect(out.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe("/health");
    expect(out.spec.template.spec.containers[0].livenessProbe.httpGet.path).toBe("/health");
    expect(base.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe("/health/ready");
  });

  it("PM-21 PM-22 profiles: only dev carries the overlays; oci and homelab objects are untouched", () => {
    expect(PROFILES.dev.overlays).toEqual(["drop-pvc-pod-security-context", "readiness-health-path"]);
    for (const env of ["oci", "homelab"] as const) {
      const obj = statefulSet(true);
      expect(applyOverlays(obj, PROFILES[env].overlays)).toBe(obj);
    }
    const dev = applyOverlays(statefulSet(true), PROFILES.dev.overlays);
    expect(dev.spec.template.spec.securityContext).toBeUndefined();
    expect(dev.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe("/health");
  });

  it("non-workloads pass through unchanged", () => {
    const svc: K8sObject = { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: {} };
    expect(applyOverlays(svc, PROFILES.dev.overlays)).toBe(svc);
  });
});

describe("overlays mirrored into chart values", () => {
  it("PM-21 dev nulls the chart's pod securityContext for PVC workloads; oci and homelab keep it", async () => {
    const { overlayChartValues } = await import("../components/lib/overlays");
    const values = { podSecurityContext: { fsGroup: 1000 }, server: { securityContext: { fsGroup: 65534, runAsNonRoot: true } }, other: 1 };
    const dev = overlayChartValues(values, PROFILES.dev.overlays, [["podSecurityContext"], ["server", "securityContext"]]);
    // null, not absent: Helm merges user values over chart defaults, and only null removes a default.
    const removed = { fsGroup: null, fsGroupChangePolicy: null };
    expect(dev).toEqual({ podSecurityContext: removed, server: { securityContext: { ...removed, runAsNonRoot: true } }, other: 1 });
    expect(values.podSecurityContext.fsGroup).toBe(1000);
    expect(overlayChartValues(values, PROFILES.oci.overlays, [["podSecurityContext"]])).toBe(values);
    expect(() => overlayChartValues(values, PROFILES.dev.overlays, [[]])).toThrow(/empty path/);
  });
});
