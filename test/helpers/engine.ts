// What the real engine and API server enforce and Pulumi's mock monitor does not (FIELD-NOTES.md,
// "What mocks hide"): one resource per URN, and one declaration per Kubernetes object.
import type * as pulumiType from "@pulumi/pulumi";
import { Created } from "./mocks";

export interface EngineRecord {
  /** Every URN registered, in order, as the engine computes it (the parent's whole type chain). */
  readonly urns: string[];
  /** URNs registered more than once: the engine stops the program at the second one. */
  readonly duplicateUrns: string[];
}

/**
 * Makes the mock monitor name resources as the engine does and records repeated URNs. The mock
 * keeps only the parent's last type segment and silently overwrites a repeated URN.
 */
export function installEngineChecks(pulumi: typeof pulumiType, stack: string, project: string): EngineRecord {
  const monitor = pulumi.runtime.getMonitor() as any;
  if (!monitor || typeof monitor.registerResource !== "function") throw new Error("installEngineChecks: call after setMocks");
  const record: EngineRecord = { urns: [], duplicateUrns: [] };
  const seen = new Set<string>();
  monitor.newUrn = (parent: string | undefined, type: string, name: string) => {
    const parentType = parent ? parent.split("::")[2] : undefined;
    const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    if (seen.has(urn)) record.duplicateUrns.push(urn);
    seen.add(urn);
    record.urns.push(urn);
    return register(req, callback);
  };
  return record;
}

/** Kinds the API server keeps outside namespaces (the ones this program creates or could). */
const CLUSTER_SCOPED = new Set([
  "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass",
  "PriorityClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "IngressClass", "APIService",
]);

/** `group/Kind/namespace/name` of a Kubernetes resource as the API server identifies it; undefined when not an object. */
export function objectKey(c: Created): string | undefined {
  const m = /^kubernetes:([^:]+):(.+)$/.exec(c.type);
  if (!m || c.type.startsWith("kubernetes:helm.sh/") || c.type.startsWith("kubernetes:yaml")) return undefined;
  const [, groupVersion, kind] = m;
  // core/v1 -> "", apps/v1 -> apps, networking.k8s.io/v1 -> networking.k8s.io: versions of one group are one object.
  const group = groupVersion.startsWith("core/") ? "" : groupVersion.split("/")[0];
  const meta = c.inputs.metadata ?? {};
  const name = typeof meta.name === "string" ? meta.name : undefined;
  if (name === undefined) return undefined; // auto-named: unique by construction
  const ns = CLUSTER_SCOPED.has(kind) ? "" : (meta.namespace ?? "default");
  return `${group}/${kind}/${ns}/${name}`;
}

/** Throws with every violation: a repeated URN, or one Kubernetes object declared by two resources. */
export function assertEngineInvariants(created: readonly Created[], record: EngineRecord, what: string): void {
  const problems: string[] = record.duplicateUrns.map((u) => `Duplicate resource URN '${u}'`);
  const owners = new Map<string, Created[]>();
  for (const c of created) {
    const key = objectKey(c);
    if (key) owners.set(key, [...(owners.get(key) ?? []), c]);
  }
  for (const [key, list] of owners) {
    if (list.length > 1) problems.push(`${key} is declared by ${list.length} resources (${list.map((c) => `${c.type}::${c.name}`).join(", ")}): the API answers AlreadyExists, or two field managers fight`);
  }
  if (problems.length > 0) throw new Error(`${what}: the engine or the API server would refuse this program:\n- ${problems.join("\n- ")}`);
}
