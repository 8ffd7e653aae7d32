// Argo CD AppProjects (#14.1 "Git write is not cluster-admin"): whoever can push to the platform
// repository reaches only what these allow. The root app-of-apps is in `platform` (Applications in
// the argocd namespace, nothing else); the sample app in `apps` (its namespace, namespaced kinds
// without RBAC or quotas). The `default` project Argo CD creates is emptied, so an Application that
// names it (or none) syncs nothing.
import { ClusterContext } from "../lib/context";
import { K8sObject } from "../lib/k8s";

/** Argo CD's name for the cluster it runs in. */
export const IN_CLUSTER = "https://kubernetes.default.svc";

export const PROJECTS = { platform: "platform", apps: "apps" } as const;
export type ProjectName = (typeof PROJECTS)[keyof typeof PROJECTS];
/** The projects the platform declares: the only ones an Application may name (policy pack, application()). */
export const DECLARED_PROJECTS: readonly string[] = Object.values(PROJECTS);
/** Created by argocd-server at start when missing (server/server.go initializeDefaultProject): sourceRepos "*", any destination, any cluster kind. */
export const DEFAULT_PROJECT = "default";

interface GroupKind { readonly group: string; readonly kind: string }

/**
 * What an app must not create in its own namespace: RBAC (a Role could grant itself the namespace's
 * Secrets, a RoleBinding bind a ClusterRole), quotas and limit ranges it would lift, Argo CD's own
 * kinds, and Istio objects that reach beyond the namespace (a Gateway binds the shared ingress
 * gateway pods; an EnvoyFilter or Sidecar rewrites proxies). NetworkPolicies stay allowed: the app's
 * own flows ship with it in Git (deploy/<env>/networkpolicy-*); the stack's default-deny stays.
 */
export const APP_DENIED_KINDS: readonly GroupKind[] = [
  { group: "rbac.authorization.k8s.io", kind: "Role" },
  { group: "rbac.authorization.k8s.io", kind: "RoleBinding" },
  { group: "", kind: "ResourceQuota" },
  { group: "", kind: "LimitRange" },
  { group: "argoproj.io", kind: "Application" },
  { group: "argoproj.io", kind: "ApplicationSet" },
  { group: "argoproj.io", kind: "AppProject" },
  { group: "networking.istio.io", kind: "Gateway" },
  { group: "networking.istio.io", kind: "EnvoyFilter" },
  { group: "networking.istio.io", kind: "Sidecar" },
];

/** What the root app-of-apps syncs from argocd/ (bootstrap-repo.ts OWNED_LIST): Application manifests only. */
export const PLATFORM_NAMESPACED_KINDS: readonly GroupKind[] = [{ group: "argoproj.io", kind: "Application" }];

export interface ProjectArgs {
  readonly ctx: ClusterContext;
  /** In-cluster Git URL(s) Argo CD reads (bootstrap-repo.ts repoUrl()): the only sources. */
  readonly sourceRepos: readonly string[];
}

function check(what: string, repos: readonly string[], namespaces: readonly string[]): void {
  if (repos.length === 0) throw new Error(`${what}: sourceRepos is empty`);
  for (const r of repos) if (/[*?![\]]/.test(r) || !/^(https?|ssh):\/\//.test(r)) throw new Error(`${what}: sourceRepos entry "${r}" must be one repository URL, no globs`);
  if (namespaces.length === 0) throw new Error(`${what}: no destination namespaces`);
  for (const n of namespaces) if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n)) throw new Error(`${what}: destination namespace "${n}" must be a namespace name, no globs`);
}

function project(ctx: ClusterContext, name: string, description: string, spec: Record<string, unknown>): K8sObject {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AppProject",
    metadata: { name, namespace: ctx.endpoints.argocd.namespace },
    spec: { description, ...spec },
  };
}

/** The root app-of-apps' project: Applications into the argocd namespace, no cluster-scoped kinds. */
export function platformProject(args: ProjectArgs): K8sObject {
  const ns = args.ctx.endpoints.argocd.namespace;
  check("platform project", args.sourceRepos, [ns]);
  return project(args.ctx, PROJECTS.platform, "The platform's app-of-apps: Application manifests from the platform repository", {
    sourceRepos: [...args.sourceRepos],
    destinations: [{ server: IN_CLUSTER, namespace: ns }],
    clusterResourceWhitelist: [],
    namespaceResourceWhitelist: PLATFORM_NAMESPACED_KINDS.map((k) => ({ ...k })),
  });
}

/** The applications' project: their namespaces only, namespaced kinds minus APP_DENIED_KINDS. */
export function appsProject(args: ProjectArgs & { readonly namespaces: readonly string[] }): K8sObject {
  check("apps project", args.sourceRepos, args.namespaces);
  return project(args.ctx, PROJECTS.apps, "Applications delivered through Git: their own namespaces, no cluster-scoped kinds, no RBAC", {
    sourceRepos: [...args.sourceRepos],
    destinations: [...args.namespaces].sort().map((namespace) => ({ server: IN_CLUSTER, namespace })),
    clusterResourceWhitelist: [],
    namespaceResourceBlacklist: APP_DENIED_KINDS.map((k) => ({ ...k })),
  });
}

/**
 * The `default` project emptied (Argo CD docs, user-guide/projects.md "The default project": it can
 * be changed, not deleted). argocd-server creates it before the stack can (the chart waits for the
 * server), so this is applied as a server-side-apply patch that takes the fields over (patchForce),
 * not created: a create would get AlreadyExists (pulumi-kubernetes >= 4.29 creates client-side).
 */
export function defaultProjectLockdown(ctx: ClusterContext): K8sObject {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AppProject",
    metadata: { name: DEFAULT_PROJECT, namespace: ctx.endpoints.argocd.namespace, annotations: { "pulumi.com/patchForce": "true" } },
    spec: {
      description: "Locked: Applications belong to the platform's projects",
      sourceRepos: [],
      destinations: [],
      clusterResourceWhitelist: [],
      // An empty namespace whitelist means every kind; deny them all explicitly.
      namespaceResourceBlacklist: [{ group: "*", kind: "*" }],
    },
  };
}
