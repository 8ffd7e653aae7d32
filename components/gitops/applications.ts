// Argo CD Applications, built by typed functions so every lesson is in every Application:
// repoURL never loopback (PM-14), main or a tag (PM-19), ordered by sync waves (PM-28), CRD drift
// ignored (PM-29), created by the stack (app-of-apps root, PM-30), automated prune+selfHeal
// (PM-31), destination namespace = where the resources live (PM-36).
import * as pulumi from "@pulumi/pulumi";
import { ClusterContext } from "../lib/context";
import { isLoopbackReference } from "../lib/endpoints";
import { K8sObject, Metadata } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { appsProject, DECLARED_PROJECTS, defaultProjectLockdown, IN_CLUSTER, platformProject, PROJECTS } from "./projects";
import * as k8s from "@pulumi/kubernetes";

/** Platform Applications sync in negative waves, applications from 0 up: CRDs exist before use (PM-28). */
export const SYNC_WAVES = {
  platform: { min: -100, max: -1, default: -10 },
  app: { min: 0, max: 100, default: 0 },
} as const;

export type Tier = keyof typeof SYNC_WAVES;

export { IN_CLUSTER };
export const RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io";

/** The fields the API server fills in on CRDs (PM-29). */
export const CRD_IGNORE_DIFFERENCES = [
  { group: "apiextensions.k8s.io", kind: "CustomResourceDefinition", jsonPointers: ["/spec/preserveUnknownFields", "/status"] },
];

export interface ApplicationArgs {
  /** Application name (DNS label). */
  readonly name: string;
  /** Namespace Argo CD runs in (Applications live there). @default "argocd" */
  readonly argocdNamespace?: string;
  /** One of the platform's AppProjects (projects.ts), never `default` (#14.1). */
  readonly project: string;
  /** Git URL Argo CD pulls from: the Gitea Service's in-cluster URL, never loopback (PM-14). */
  readonly repoURL: string;
  /** Folder in the repository. */
  readonly path: string;
  /** "main" or a tag such as v1.2.3; never HEAD (PM-19). @default "main" */
  readonly targetRevision?: string;
  /** The namespace the Application's resources live in (PM-36). Required. */
  readonly destinationNamespace: string;
  /** @default in-cluster */
  readonly destinationServer?: string;
  /** True when the stack does not create the destination namespace itself (PM-36). */
  readonly createNamespace: boolean;
  /** The Application's resources include custom resources (Rollout, AnalysisTemplate, ...) (PM-28). @default false */
  readonly usesCrds?: boolean;
  /** The Application syncs CustomResourceDefinitions (PM-29). @default false */
  readonly syncsCrds?: boolean;
  /** platform before app (PM-28). */
  readonly tier: Tier;
  /** Wave within the tier's range. @default the tier's default */
  readonly wave?: number;
  /** Recurse into sub-folders. @default false */
  readonly recurse?: boolean;
  /** Fields another controller owns (e.g. Rollout-managed VirtualService weights); implies RespectIgnoreDifferences. @default [] */
  readonly ignoreDifferences?: readonly Record<string, unknown>[];
  /** Further sync options, e.g. ApplyOutOfSyncOnly=true. @default [] */
  readonly extraSyncOptions?: readonly string[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const TAG = /^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$/;

/** PM-14 and PM-19 checks, shared with the root Application. */
export function checkSource(what: string, repoURL: string, targetRevision: string): void {
  if (!repoURL) throw new Error(`${what}: repoURL is empty`);
  if (isLoopbackReference(repoURL)) {
    throw new Error(`${what}: repoURL "${repoURL}" points at localhost, which inside the repo-server pod is the pod itself (PM-14); use the Gitea Service's in-cluster URL`);
  }
  if (!/^(https?|ssh):\/\/[^/]+\/.+/.test(repoURL)) throw new Error(`${what}: repoURL must be an http(s) or ssh URL, got "${repoURL}"`);
  if (targetRevision !== "main" && !TAG.test(targetRevision)) {
    throw new Error(`${what}: targetRevision must be "main" or a tag like v1.2.3, got "${targetRevision}" (PM-19: never HEAD of an unknown branch)`);
  }
}

export function application(args: ApplicationArgs): K8sObject {
  const what = `application ${args.name}`;
  if (!DNS_LABEL.test(args.name)) throw new Error(`${what}: name must be a DNS label`);
  if (!args.path || args.path.startsWith("/") || args.path.split("/").includes("..")) {
    throw new Error(`${what}: path must be a relative folder in the repository, got "${args.path}"`);
  }
  if (!DECLARED_PROJECTS.includes(args.project)) {
    throw new Error(`${what}: project must be one of ${DECLARED_PROJECTS.join(", ")}, got "${args.project}" (#14.1: the default project is locked)`);
  }
  const revision = args.targetRevision ?? "main";
  checkSource(what, args.repoURL, revision);
  if (!args.destinationNamespace || !DNS_LABEL.test(args.destinationNamespace)) {
    throw new Error(`${what}: destinationNamespace is required and must be the namespace its resources live in (PM-36)`);
  }
  const range = SYNC_WAVES[args.tier];
  if (!range) throw new Error(`${what}: unknown tier "${args.tier}"`);
  const wave = args.wave ?? range.default;
  if (!Number.isInteger(wave) || wave < range.min || wave > range.max) {
    throw new Error(`${what}: ${args.tier} sync waves are ${range.min}..${range.max}, got ${wave} (PM-28: platform before apps)`);
  }
  const extraIgnores = args.ignoreDifferences ?? [];
  for (const o of args.extraSyncOptions ?? []) {
    if (!/^[A-Za-z]+=[A-Za-z0-9]+$/.test(o)) throw new Error(`${what}: sync option "${o}" must look like Name=value`);
  }
  const syncOptions = [...new Set([
    ...(args.createNamespace ? ["CreateNamespace=true"] : []),
    ...(args.usesCrds || args.syncsCrds ? ["SkipDryRunOnMissingResource=true"] : []),
    ...(args.syncsCrds || extraIgnores.length > 0 ? ["RespectIgnoreDifferences=true"] : []),
    ...(args.extraSyncOptions ?? []),
  ])];
  const ignoreDifferences = [
    ...(args.syncsCrds ? CRD_IGNORE_DIFFERENCES.map((d) => ({ ...d, jsonPointers: [...d.jsonPointers] })) : []),
    ...extraIgnores.map((d) => ({ ...d })),
  ];
  // The finalizer makes deleting an Application delete its resources too (Metadata has no field for it).
  const metadata: Metadata & { finalizers: string[] } = {
    name: args.name,
    namespace: args.argocdNamespace ?? "argocd",
    annotations: { "argocd.argoproj.io/sync-wave": String(wave) },
    finalizers: [RESOURCES_FINALIZER],
  };
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata,
    spec: {
      project: args.project,
      source: {
        repoURL: args.repoURL,
        targetRevision: revision,
        path: args.path,
        ...(args.recurse ? { directory: { recurse: true } } : {}),
      },
      destination: { server: args.destinationServer ?? IN_CLUSTER, namespace: args.destinationNamespace },
      syncPolicy: {
        // PM-31: Git is the only way to change what runs; drift is reverted.
        automated: { prune: true, selfHeal: true },
        ...(syncOptions.length > 0 ? { syncOptions } : {}),
        retry: { limit: 5, backoff: { duration: "10s", factor: 2, maxDuration: "3m" } },
      },
      ...(ignoreDifferences.length > 0 ? { ignoreDifferences } : {}),
    },
  };
}

export interface RootApplicationArgs {
  readonly ctx: ClusterContext;
  /** The bootstrap repository's in-cluster URL (bootstrap-repo.ts repoUrl()). */
  readonly repoURL: string;
  /** Folder holding the child Application manifests. @default "argocd" */
  readonly path?: string;
  /** @default "main" */
  readonly targetRevision?: string;
  /** @default "root" */
  readonly name?: string;
}

/**
 * The app-of-apps root (PM-30): it syncs the Application manifests kept in Git; those live in the
 * argocd namespace, which the stack creates (no CreateNamespace).
 */
export function rootApplication(args: RootApplicationArgs): K8sObject {
  const ns = args.ctx.endpoints.argocd.namespace;
  return application({
    name: args.name ?? "root",
    project: PROJECTS.platform,
    argocdNamespace: ns,
    repoURL: args.repoURL,
    path: args.path ?? "argocd",
    targetRevision: args.targetRevision,
    destinationNamespace: ns,
    createNamespace: false,
    tier: "platform",
    wave: SYNC_WAVES.platform.min,
    recurse: true,
  });
}

export interface ApplicationsArgs {
  readonly ctx: ClusterContext;
  readonly repoURL: string;
  /** @default "argocd" */
  readonly path?: string;
  /** @default "main" */
  readonly targetRevision?: string;
  /** Further Applications the stack registers directly (besides those kept in Git). @default [] */
  readonly applications?: readonly ApplicationArgs[];
  /** Namespaces the apps project may deploy into (the sample app's). */
  readonly appNamespaces: readonly string[];
  /** What the Applications wait for: the Argo CD chart (their CRD) and the bootstrap Job (the content). */
  readonly dependsOn?: readonly pulumi.Resource[];
}

/**
 * Registers the root Application (and any extra ones) after `dependsOn` (the chart brings the CRD,
 * the bootstrap Job the content). Given to each child explicitly rather than through the
 * component's own options, so the order holds whatever the SDK propagates.
 */
export class Applications extends pulumi.ComponentResource {
  public readonly root: pulumi.CustomResource;

  constructor(name: string, args: ApplicationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:gitops:Applications", name, {}, opts);
    const overlays = args.ctx.profile.overlays;
    const deps = [...(args.dependsOn ?? [])];
    // The AppProjects come after the chart (their CRD, and argocd-server has created `default`) and
    // before any Application that names them.
    const inProjects = { parent: this, dependsOn: deps };
    const projects = [
      registerObject(platformProject({ ctx: args.ctx, sourceRepos: [args.repoURL] }), overlays, inProjects),
      registerObject(appsProject({ ctx: args.ctx, sourceRepos: [args.repoURL], namespaces: args.appNamespaces }), overlays, inProjects),
    ];
    const locked = new k8s.apiextensions.CustomResourcePatch(`appprojectpatch-${args.ctx.endpoints.argocd.namespace}-default`,
      defaultProjectLockdown(args.ctx) as k8s.apiextensions.CustomResourcePatchArgs, inProjects);
    const after = { parent: this, dependsOn: [...deps, ...projects, locked] };
    this.root = registerObject(rootApplication({
      ctx: args.ctx, repoURL: args.repoURL, path: args.path, targetRevision: args.targetRevision,
    }), overlays, after);
    for (const app of args.applications ?? []) {
      registerObject(application({ argocdNamespace: args.ctx.endpoints.argocd.namespace, ...app }), overlays, after);
    }
    this.registerOutputs({});
  }
}
