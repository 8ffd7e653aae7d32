// What a second `pulumi up` would do, from two evaluations of the stack (before and after a
// change): which resources the engine would create, delete, replace, update or leave alone. The
// mocks never diff; these rules are the providers' and the engine's, each with its source.
import { isDeepStrictEqual } from "util";
import { Registration } from "./engine";
import { plain } from "./mocks";
import { StackRun } from "./stack";

export type Change = "create" | "delete" | "replace" | "update" | "same";

export interface ChangeSet {
  readonly changes: ReadonlyMap<string, { readonly change: Change; readonly why: string }>;
  /** URNs by change, sorted. */
  of(change: Change): string[];
  /** `type::name` of resources with that change, sorted (short and stable for assertions). */
  names(change: Change): string[];
  /** Resources whose outputs a preview cannot know (being replaced, or commands being re-run). */
  readonly unknownInPreview: ReadonlySet<string>;
}

const K8S_NAME_PATHS = ["metadata.name", "metadata.namespace"];

/** Input paths (dotted) whose values differ, after unwrapping secrets; ignoreChanges paths left out. */
export function changedPaths(before: unknown, after: unknown, ignore: readonly string[] = [], at = ""): string[] {
  if (ignore.some((p) => at === p || at.startsWith(`${p}.`) || at.startsWith(`${p}[`))) return [];
  const a = plain(before);
  const b = plain(after);
  if (isDeepStrictEqual(a, b)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedPaths(a[k], b[k], ignore, at ? `${at}.${k}` : k));
  }
  return [at];
}

const startsWithAny = (paths: readonly string[], prefixes: readonly string[]) =>
  paths.filter((p) => prefixes.some((x) => p === x || p.startsWith(`${x}.`) || p.startsWith(`${x}[`)));

/** The kubeconfig's cluster entry (server, CA, TLS settings): pulumi-kubernetes' replacement heuristic compares it. */
function kubeconfigCluster(kubeconfig: unknown): string | undefined {
  const text = plain(kubeconfig);
  if (typeof text !== "string") return undefined;
  const m = /clusters:\s*\n([\s\S]*?)(\n\S|$)/.exec(text);
  return (m ? m[1] : text).replace(/\s+/g, " ").trim();
}

/** Why a change of these paths replaces the resource, or undefined for an in-place update. */
function replaceReason(r: Registration, before: Registration, paths: readonly string[], providers: Map<string, Registration>): string | undefined {
  const t = r.type;
  const forced = startsWithAny(paths, r.replaceOnChanges);
  if (forced.length) return `replaceOnChanges: ${forced.join(", ")}`;
  if (t === "pulumi:providers:kubernetes") {
    // pulumi-kubernetes provider.go DiffConfig: when clusterIdentifier is set on both sides only its
    // change replaces; when it is added or removed (or absent), a different cluster entry in the
    // kubeconfig (server, CA, TLS settings) does.
    if (r.inputs.clusterIdentifier !== undefined && before.inputs.clusterIdentifier !== undefined) {
      return paths.includes("clusterIdentifier") ? "clusterIdentifier changed" : undefined;
    }
    return kubeconfigCluster(r.inputs.kubeconfig) !== kubeconfigCluster(before.inputs.kubeconfig) ? "kubeconfig points at another cluster (clusterIdentifier not set on both sides)" : undefined;
  }
  if (t.startsWith("kubernetes:")) {
    if (t.startsWith("kubernetes:helm.sh/")) return undefined;
    const named = startsWithAny(paths, K8S_NAME_PATHS);
    if (named.length) return `${named.join(", ")} changed (another object)`;
    const provider = r.provider ? providers.get(r.provider.split("::").slice(0, -1).join("::")) : undefined;
    const flag = (k: string) => plain(provider?.inputs[k]) === true || plain(provider?.inputs[k]) === "true";
    // pulumi-kubernetes: Secret/ConfigMap data is replaced unless enableSecretMutable / enableConfigMapMutable, or always when immutable.
    if (/:core\/v1:(Secret|ConfigMap)$/.test(t)) {
      // diff.go: a Secret's type is immutable, whatever enableSecretMutable says.
      if (t.endsWith("Secret") && paths.includes("type")) return "type changed (immutable)";
      const data = startsWithAny(paths, ["data", "stringData", "binaryData", "immutable"]);
      const mutable = t.endsWith("Secret") ? flag("enableSecretMutable") : flag("enableConfigMapMutable");
      if (data.length && (!mutable || plain(r.inputs.immutable) === true)) return `${data.join(", ")} changed (${t.endsWith("Secret") ? "enableSecretMutable" : "enableConfigMapMutable"} off or immutable)`;
      return undefined;
    }
    // Fields the API server refuses to update (apps/v1 and batch/v1 validation).
    const immutable: Record<string, string[]> = {
      "kubernetes:batch/v1:Job": ["spec.template", "spec.selector", "spec.completions"],
      "kubernetes:apps/v1:Deployment": ["spec.selector"],
      "kubernetes:apps/v1:StatefulSet": ["spec.selector", "spec.volumeClaimTemplates", "spec.serviceName", "spec.podManagementPolicy"],
      "kubernetes:core/v1:PersistentVolumeClaim": ["spec.accessModes", "spec.storageClassName", "spec.volumeName", "spec.selector"],
      "kubernetes:core/v1:Service": ["spec.clusterIP"],
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": ["roleRef"],
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": ["roleRef"],
    };
    const hit = startsWithAny(paths, immutable[t] ?? []);
    return hit.length ? `immutable ${hit.join(", ")} changed` : undefined;
  }
  if (t === "command:remote:Command" || t === "command:local:Command") {
    // pulumi-command: triggers replace; create/update/stdin/environment/connection changes run `update`.
    const trig = startsWithAny(paths, ["triggers"]);
    return trig.length ? "triggers changed" : undefined;
  }
  if (t === "pulumi-nodejs:dynamic:Resource" && "key" in r.inputs && "value" in r.inputs) {
    // components/lib/latch.ts latchDiff: a new key replaces; a new value alone changes nothing.
    return paths.includes("key") ? "key changed (latch)" : undefined;
  }
  if (t.startsWith("random:") || t.startsWith("tls:")) return `inputs ${paths.join(", ")} changed (random and tls resources replace on any input)`;
  if (t === "oci:Core/instance:Instance") {
    // oracle/terraform-provider-oci v8.23.0 (pulumi-oci v4.20.0's upstream submodule, commit 8016f41),
    // internal/service/core/core_instance_resource.go: the schema's ForceNew fields, and CustomizeDiff's
    // ForceNewIfChange("metadata") when ssh_authorized_keys or user_data differ. Updated in place
    // (Update/updateOptionsViaWorkRequest): shape, shapeConfig, displayName, compartmentId, faultDomain,
    // createVnicDetails.{assignPublicIp, hostnameLabel, nsgIds, ...}, sourceDetails.{sourceType,
    // bootVolumeSizeInGbs}, extendedMetadata, other metadata keys; sourceDetails.sourceId too, by
    // swapping the boot volume (UpdateInstanceSourceViaImageDetails): same instance, a new disk.
    // platformConfig.{type, configMap, isSymmetricMultiThreadingEnabled} replace only on bare metal.
    const hit = startsWithAny(paths, [
      "availabilityDomain", "clusterPlacementGroupId", "computeClusterId", "hostnameLabel", "image", "instanceConfigurationId",
      "ipxeScript", "isPvEncryptionInTransitEnabled", "placementConstraintDetails", "preemptibleInstanceConfig", "subnetId",
      ...["assignIpv6ip", "assignPrivateDnsRecord", "ipv6addressIpv6subnetCidrPairDetails", "privateIp", "privateIpId", "securityAttributes", "subnetCidr", "subnetId", "vlanId"].map((k) => `createVnicDetails.${k}`),
      ...["firmware", "isConsistentVolumeNamingEnabled", "remoteDataVolumeType"].map((k) => `launchOptions.${k}`),
      ...["areVirtualInstructionsEnabled", "isAccessControlServiceEnabled", "isInputOutputMemoryManagementUnitEnabled", "isMeasuredBootEnabled", "isMemoryEncryptionEnabled", "isSecureBootEnabled", "isTrustedPlatformModuleEnabled", "numaNodesPerSocket", "percentageOfCoresEnabled"].map((k) => `platformConfig.${k}`),
      "sourceDetails.bootVolumeVpusPerGb", "sourceDetails.instanceSourceImageFilterDetails",
      "metadata.ssh_authorized_keys", "metadata.user_data",
    ]);
    return hit.length ? `${hit.join(", ")} changed (ForceNew)` : undefined;
  }
  return undefined;
}

export interface LastRun {
  /**
   * URNs whose last `up` left them unready (a Job that failed or timed out): the engine keeps them in
   * state and diffs them again on the next `up`.
   */
  readonly unready?: readonly string[];
  /** Resource names given to `pulumi up --replace`: replaced whatever their inputs, outputs unknown in the preview. */
  readonly replace?: readonly string[];
}

/**
 * A resource the last `up` left unready, with no input change: pulumi-kubernetes' Diff
 * (provider/pkg/provider/provider.go, `metadata.ReplaceUnready`) replaces a Job annotated
 * `pulumi.com/replaceUnready: "true"` whose live object is not ready; without it the provider only
 * awaits the same failed Job again, so the `up` fails again (the annotation's doc: "Pulumi will
 * continue to wait for readiness on the next update").
 */
function unreadyChange(r: Registration): { change: Change; why: string } {
  const annotations = plain(r.inputs.metadata?.annotations) ?? {};
  if (r.type === "kubernetes:batch/v1:Job" && annotations["pulumi.com/replaceUnready"] === "true") {
    return { change: "replace", why: "unready after the last up and annotated pulumi.com/replaceUnready" };
  }
  return { change: "update", why: "unready after the last up: awaited again as it is (a failed Job fails again)" };
}

/**
 * Compares two evaluations the way the engine diffs state against a new program run. Custom
 * resources, plus helm v4 Charts: remote components the provider renders from their inputs, so a
 * change of values reaches the rendered objects (which mocks never show).
 */
export function changesBetween(before: StackRun, after: StackRun, last: LastRun = {}): ChangeSet {
  const changes = new Map<string, { change: Change; why: string }>();
  const unready = new Set(last.unready ?? []);
  const custom = (run: StackRun) => new Map([...run.engine.resources].filter(([, r]) => r.custom || r.type.startsWith("kubernetes:helm.sh/")));
  const a = custom(before);
  const b = custom(after);
  const providers = new Map([...b].filter(([, r]) => r.type.startsWith("pulumi:providers:")));
  // Providers first: a replaced provider replaces every resource it manages.
  const order = [...b.keys()].sort((x, y) => Number(!b.get(x)!.type.startsWith("pulumi:providers:")) - Number(!b.get(y)!.type.startsWith("pulumi:providers:")));
  for (const urn of order) {
    const r = b.get(urn)!;
    const old = a.get(urn);
    if (!old) { changes.set(urn, { change: "create", why: "new" }); continue; }
    if (last.replace?.includes(r.name)) { changes.set(urn, { change: "replace", why: "pulumi up --replace" }); continue; }
    const providerUrn = r.provider?.split("::").slice(0, -1).join("::");
    if (providerUrn && changes.get(providerUrn)?.change === "replace") { changes.set(urn, { change: "replace", why: `its provider ${providerUrn.split("::").pop()} is replaced` }); continue; }
    const paths = changedPaths(old.inputs, r.inputs, r.ignoreChanges);
    if (paths.length === 0) { changes.set(urn, unready.has(urn) ? unreadyChange(r) : { change: "same", why: "" }); continue; }
    const reason = replaceReason(r, old, paths, providers) ?? (unready.has(urn) && unreadyChange(r).change === "replace" ? unreadyChange(r).why : undefined);
    changes.set(urn, reason ? { change: "replace", why: reason } : { change: "update", why: paths.join(", ") });
  }
  for (const urn of a.keys()) if (!b.has(urn)) changes.set(urn, { change: "delete", why: "gone from the program" });
  const unknown = new Set<string>();
  for (const [urn, c] of changes) {
    const t = (b.get(urn) ?? a.get(urn))!.type;
    if (c.change === "replace" || c.change === "create" || (c.change === "update" && t.startsWith("command:"))) unknown.add(urn);
  }
  // A helm v4 Chart whose values come from an unknown output renders nothing at preview ("Preview is
  // incomplete"). Other resources are not propagated to: a latch or a command keeps known outputs.
  for (const [urn, r] of b) {
    if (!unknown.has(urn) && r.type.startsWith("kubernetes:helm.sh/") && (r.propertyDependencies.values ?? []).some((d) => unknown.has(d))) unknown.add(urn);
  }
  const of = (change: Change) => [...changes].filter(([, c]) => c.change === change).map(([u]) => u).sort();
  return {
    changes,
    of,
    names: (change) => of(change).map((u) => { const r = (b.get(u) ?? a.get(u))!; return `${r.type}::${r.name}`; }).sort(),
    unknownInPreview: unknown,
  };
}

/** The resources an input of `urn` came from (transitively through the dependency record of that input). */
export function inputSources(run: StackRun, urn: string, property: string): string[] {
  const r = run.engine.resources.get(urn);
  if (!r) throw new Error(`no resource ${urn}`);
  return [...(r.propertyDependencies[property] ?? [])].sort();
}
