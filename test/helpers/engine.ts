// What the real engine and API server enforce and Pulumi's mock monitor does not (FIELD-NOTES.md,
// "What mocks hide"): one resource per URN, and one declaration per Kubernetes object.
import type * as pulumiType from "@pulumi/pulumi";
import { Created } from "./mocks";

/** What the engine receives for one resource: the options the mock's newResource never sees. */
export interface Registration {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent?: string;
  readonly custom: boolean;
  /** `<provider urn>::<id>` when given or inherited. */
  readonly provider?: string;
  readonly inputs: Record<string, any>;
  /** dependsOn plus every resource an input came from. */
  readonly dependencies: readonly string[];
  /** Per input property: the resources its value came from. */
  readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
  readonly ignoreChanges: readonly string[];
  readonly replaceOnChanges: readonly string[];
  readonly deleteBeforeReplace: boolean;
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly deletedWith?: string;
}

export interface EngineRecord {
  /** Every URN registered, in order, as the engine computes it (the parent's whole type chain). */
  readonly urns: string[];
  /** Every registration by URN (the last one where a URN repeats). */
  readonly resources: Map<string, Registration>;
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
  const record: EngineRecord = { urns: [], resources: new Map(), duplicateUrns: [] };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const rpc = require("@pulumi/pulumi/runtime/rpc");
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
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((deps: any, key: string) => { propertyDependencies[key] = deps.getUrnsList(); });
    record.resources.set(urn, {
      urn, type: req.getType(), name: req.getName(), parent: req.getParent() || undefined, custom: req.getCustom(),
      provider: req.getProvider() || undefined, inputs: rpc.deserializeProperties(req.getObject()),
      dependencies: req.getDependenciesList(), propertyDependencies,
      ignoreChanges: req.getIgnorechangesList(), replaceOnChanges: req.getReplaceonchangesList(),
      deleteBeforeReplace: req.getDeletebeforereplace(), protect: Boolean(req.getProtect()),
      retainOnDelete: Boolean(req.getRetainondelete()), deletedWith: req.getDeletedwith() || undefined,
    });
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
