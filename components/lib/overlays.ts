// Environment overlays: pure (object) => object functions, named by the profile and applied by
// our builders to every object we build. Base objects are never edited for an environment.
import { OverlayName } from "./profiles";
import { K8sObject } from "./k8s";

export type Overlay = (obj: K8sObject) => K8sObject;

const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "Rollout"]);

function podSpecOf(obj: K8sObject): Record<string, any> | undefined {
  if (!WORKLOADS.has(obj.kind)) return undefined;
  return obj.spec?.template?.spec;
}

/** Deep copy of plain objects and arrays; anything else (a Pulumi Output) is shared, not copied. */
function clone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clone) as T;
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)])) as T;
  }
  return value;
}

export function mountsPvc(obj: K8sObject): boolean {
  const pod = podSpecOf(obj);
  if (!pod) return false;
  const hasClaimVolume = (pod.volumes ?? []).some((v: any) => v.persistentVolumeClaim);
  const hasClaimTemplates = obj.kind === "StatefulSet" && (obj.spec?.volumeClaimTemplates ?? []).length > 0;
  return hasClaimVolume || hasClaimTemplates;
}

/** PM-21: k3d's local-path provisioner ignores fsGroup; drop the pod securityContext of PVC workloads. */
export const dropPvcPodSecurityContext: Overlay = (obj) => {
  if (!mountsPvc(obj)) return obj;
  const out = clone(obj);
  delete out.spec.template.spec.securityContext;
  return out;
};

/** PM-22: dev images serve /health, not /health/ready. */
export const readinessHealthPath: Overlay = (obj) => {
  const pod = podSpecOf(obj);
  if (!pod) return obj;
  const touches = [...(pod.containers ?? []), ...(pod.initContainers ?? [])]
    .some((c: any) => c.readinessProbe?.httpGet?.path === "/health/ready");
  if (!touches) return obj;
  const out = clone(obj);
  const spec = out.spec.template.spec;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    if (c.readinessProbe?.httpGet?.path === "/health/ready") c.readinessProbe.httpGet.path = "/health";
  }
  return out;
};

export const OVERLAYS: Record<OverlayName, Overlay> = {
  "drop-pvc-pod-security-context": dropPvcPodSecurityContext,
  "readiness-health-path": readinessHealthPath,
};

export function applyOverlays(obj: K8sObject, names: readonly OverlayName[]): K8sObject {
  return names.reduce((acc, name) => OVERLAYS[name](acc), obj);
}

/**
 * The same overlays, mirrored into chart values where a chart owns the workload: `podSecurityPaths`
 * names where the chart takes the pod securityContext of a workload that mounts a PVC
 * (e.g. ["podSecurityContext"] for Gitea, ["server", "securityContext"] for Prometheus).
 */
export function overlayChartValues(
  values: Record<string, unknown>,
  names: readonly OverlayName[],
  pvcPodSecurityPaths: readonly (readonly string[])[],
): Record<string, unknown> {
  if (!names.includes("drop-pvc-pod-security-context")) return values;
  const out = clone(values);
  for (const path of pvcPodSecurityPaths) {
    if (path.length === 0) throw new Error("overlayChartValues: empty path");
    let node: any = out;
    for (const key of path.slice(0, -1)) node = node?.[key];
    // Helm deep-merges user values over the chart's defaults, so only null removes a default. The
    // ownership keys go (what local-path ignores); runAsNonRoot and seccomp stay for Pod Security.
    const key = path[path.length - 1];
    if (node && typeof node === "object") {
      node[key] = { ...((node[key] ?? {}) as Record<string, unknown>), fsGroup: null, fsGroupChangePolicy: null };
    }
  }
  return out;
}
