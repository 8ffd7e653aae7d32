import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { Created, find, findAll, mocks, plain } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import {
  application, ApplicationArgs, CRD_IGNORE_DIFFERENCES, RESOURCES_FINALIZER, rootApplication, SYNC_WAVES,
} from "../components/gitops/applications";
import { repoUrl } from "../components/gitops/bootstrap-repo";
import { testContext } from "./helpers/context";
import { AppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";
import { APP_DENIED_KINDS, DECLARED_PROJECTS as DECLARED, appsProject, defaultProjectLockdown, platformProject, PROJECTS } from "../components/gitops/projects";

const ctx: ClusterContext = testContext("dev");
const REPO = repoUrl(ctx);
const base: ApplicationArgs = {
  name: "sample-app", project: "apps", repoURL: REPO, path: "deploy/dev", destinationNamespace: "sample", createNamespace: false, tier: "app",
};

describe("application() builder", () => {
  it("produces an Application the upstream Argo CD schema accepts", () => {
    const app = application({ ...base, usesCrds: true, syncsCrds: true, createNamespace: true });
    expect(() => new Application(app as any).validate()).not.toThrow();
    expect((app.metadata as any).finalizers).toEqual([RESOURCES_FINALIZER]);
  });

  it("PM-31 always automated with prune and selfHeal", () => {
    for (const extra of [{}, { usesCrds: true }, { createNamespace: true }, { tier: "platform" as const }]) {
      expect(application({ ...base, ...extra }).spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    }
  });

  it("PM-14 repoURL is the in-cluster Gitea URL and loopback URLs are refused", () => {
    expect(application(base).spec.source.repoURL).toBe("http://gitea-http.gitea.svc.cluster.local:3000/platform/platform-apps.git");
    for (const bad of ["http://localhost:3000/platform/platform-apps.git", "http://127.0.0.1:8080/a/b.git", "https://[::1]/a/b.git"]) {
      expect(() => application({ ...base, repoURL: bad })).toThrow(/PM-14/);
    }
    expect(() => application({ ...base, repoURL: "" })).toThrow(/empty/);
    expect(() => application({ ...base, repoURL: "gitea/platform-apps" })).toThrow(/http\(s\) or ssh/);
  });

  it("PM-19 tracks main or a tag, never HEAD or an empty revision", () => {
    expect(application(base).spec.source.targetRevision).toBe("main");
    expect(application({ ...base, targetRevision: "v1.2.3" }).spec.source.targetRevision).toBe("v1.2.3");
    for (const bad of ["HEAD", "", "master", "feature/x"]) {
      expect(() => application({ ...base, targetRevision: bad })).toThrow(/PM-19/);
    }
  });

  it("PM-36 destination namespace is required and CreateNamespace=true only when the stack does not create it", () => {
    const created = application({ ...base, destinationNamespace: "istio-system", createNamespace: true });
    expect(created.spec.destination).toEqual({ server: "https://kubernetes.default.svc", namespace: "istio-system" });
    expect(created.spec.syncPolicy.syncOptions).toContain("CreateNamespace=true");
    expect(application(base).spec.syncPolicy.syncOptions ?? []).not.toContain("CreateNamespace=true");
    expect(() => application({ ...base, destinationNamespace: "" })).toThrow(/PM-36/);
    expect(() => application({ ...base, destinationNamespace: "Not_A_Namespace" })).toThrow(/PM-36/);
  });

  it("PM-28 apps using CRDs skip the dry run, and platform waves come before app waves", () => {
    expect(application({ ...base, usesCrds: true }).spec.syncPolicy.syncOptions).toContain("SkipDryRunOnMissingResource=true");
    const platform = Number(application({ ...base, tier: "platform" }).metadata.annotations!["argocd.argoproj.io/sync-wave"]);
    const app = Number(application(base).metadata.annotations!["argocd.argoproj.io/sync-wave"]);
    expect(platform).toBeLessThan(app);
    expect(SYNC_WAVES.platform.max).toBeLessThan(SYNC_WAVES.app.min);
    expect(() => application({ ...base, tier: "app", wave: -5 })).toThrow(/PM-28/);
    expect(() => application({ ...base, tier: "platform", wave: 0 })).toThrow(/PM-28/);
  });

  it("PM-29 apps syncing CRDs ignore the API server's CRD fields and respect that", () => {
    const app = application({ ...base, tier: "platform", syncsCrds: true });
    expect(app.spec.syncPolicy.syncOptions).toEqual(expect.arrayContaining(["RespectIgnoreDifferences=true", "SkipDryRunOnMissingResource=true"]));
    expect(app.spec.ignoreDifferences).toEqual([
      { group: "apiextensions.k8s.io", kind: "CustomResourceDefinition", jsonPointers: ["/spec/preserveUnknownFields", "/status"] },
    ]);
    expect(CRD_IGNORE_DIFFERENCES[0].jsonPointers).toHaveLength(2);
    expect(application(base).spec.ignoreDifferences).toBeUndefined();
  });

  it("refuses bad names and paths", () => {
    expect(() => application({ ...base, name: "Sample_App" })).toThrow(/DNS label/);
    expect(() => application({ ...base, path: "/abs" })).toThrow(/relative/);
    expect(() => application({ ...base, path: "../escape" })).toThrow(/relative/);
    expect(() => application({ ...base, path: "" })).toThrow(/relative/);
  });
});

describe("rootApplication() (app-of-apps)", () => {
  it("PM-30 the root watches the argocd/ folder of the bootstrap repo and lands in the argocd namespace", () => {
    const root = rootApplication({ ctx, repoURL: REPO });
    expect(() => new Application(root as any).validate()).not.toThrow();
    expect(root.metadata.namespace).toBe("argocd");
    expect(root.spec.source).toEqual({ repoURL: REPO, targetRevision: "main", path: "argocd", directory: { recurse: true } });
    expect(root.spec.destination.namespace).toBe(ctx.endpoints.argocd.namespace);
    expect(root.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(root.spec.syncPolicy.syncOptions ?? []).not.toContain("CreateNamespace=true");
  });

  it("PM-14 PM-19 the root refuses loopback and HEAD too", () => {
    expect(() => rootApplication({ ctx, repoURL: "http://localhost:3000/platform/platform-apps.git" })).toThrow(/PM-14/);
    expect(() => rootApplication({ ctx, repoURL: REPO, targetRevision: "HEAD" })).toThrow(/PM-19/);
  });
});

describe("Applications component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("PM-30 the stack itself registers the root Application (nothing to apply by hand)", async () => {
    const { Applications } = await import("../components/gitops/applications");
    new Applications("apps", {
      ctx, repoURL: REPO, appNamespaces: ["sample-app"],
      applications: [{ ...base, name: "kiali", project: "platform", destinationNamespace: "istio-system", tier: "platform", createNamespace: false }],
    });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const apps = findAll(created, "kubernetes:argoproj.io/v1alpha1:Application");
    expect(apps.map((a) => a.inputs.metadata.name).sort()).toEqual(["kiali", "root"]);
    const root = find(created, "kubernetes:argoproj.io/v1alpha1:Application", (a) => a.inputs.metadata.name === "root");
    expect(root.inputs.spec.source.path).toBe("argocd");
    expect(root.inputs.spec.source.repoURL).toBe(REPO);
  });
});

describe("#14.1 AppProjects: Git write is not cluster-admin", () => {
  const platform = platformProject({ ctx, sourceRepos: [REPO] });
  const apps = appsProject({ ctx, sourceRepos: [REPO], namespaces: ["sample-app"] });
  const locked = defaultProjectLockdown(ctx);

  it("#14.1 the projects pass the upstream AppProject schema", () => {
    for (const p of [platform, apps, locked]) expect(() => new AppProject(p as any).validate()).not.toThrow();
  });

  it("#14.1 each project whitelists only the in-cluster repository and its own namespaces", () => {
    for (const p of [platform, apps]) {
      expect(p.spec.sourceRepos).toEqual([REPO]);
      for (const d of p.spec.destinations) expect(d.server).toBe("https://kubernetes.default.svc");
    }
    expect(platform.spec.destinations.map((d: any) => d.namespace)).toEqual(["argocd"]);
    expect(apps.spec.destinations.map((d: any) => d.namespace)).toEqual(["sample-app"]);
    expect(() => appsProject({ ctx, sourceRepos: ["*"], namespaces: ["sample-app"] })).toThrow(/no globs/);
    expect(() => appsProject({ ctx, sourceRepos: [REPO], namespaces: ["*"] })).toThrow(/no globs/);
    expect(() => appsProject({ ctx, sourceRepos: [REPO], namespaces: [] })).toThrow(/no destination/);
  });

  it("#14.1 no cluster-scoped kinds; the platform project syncs only Applications, apps no RBAC or quotas", () => {
    expect(platform.spec.clusterResourceWhitelist).toEqual([]);
    expect(apps.spec.clusterResourceWhitelist).toEqual([]);
    expect(platform.spec.namespaceResourceWhitelist).toEqual([{ group: "argoproj.io", kind: "Application" }]);
    const denied = apps.spec.namespaceResourceBlacklist.map((k: any) => `${k.group}/${k.kind}`);
    for (const k of ["rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/RoleBinding", "/ResourceQuota", "argoproj.io/AppProject", "networking.istio.io/Gateway"]) {
      expect(denied).toContain(k);
    }
    expect(APP_DENIED_KINDS.length).toBe(denied.length);
  });

  it("#14.1 every kind the sample app ships through Git is allowed by the apps project, and the root's children by platform", async () => {
    const YAML = await import("yaml");
    const { renderSampleApp } = await import("../components/apps/sample-app");
    const { sampleAppApplication } = await import("../components/services");
    for (const env of ["dev", "oci", "homelab"] as const) {
      const c = testContext(env);
      for (const text of Object.values(renderSampleApp(c, { namespace: "sample-app" }))) {
        for (const doc of YAML.parseAllDocuments(text)) {
          const o = doc.toJSON();
          const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
          expect(APP_DENIED_KINDS.some((k) => k.group === group && k.kind === o.kind), `${o.kind} is denied`).toBe(false);
          expect(o.metadata.namespace).toBe("sample-app");
        }
      }
      const child = YAML.parse(sampleAppApplication(c, repoUrl(c)));
      expect(child.spec.project).toBe(PROJECTS.apps);
      expect(child.kind).toBe("Application");
    }
  });

  it("#14.1 the default project is emptied by a forced patch, not created (argocd-server already made it)", () => {
    expect(locked.metadata.name).toBe("default");
    expect(locked.metadata.annotations).toEqual({ "pulumi.com/patchForce": "true" });
    expect(locked.spec).toMatchObject({ sourceRepos: [], destinations: [], clusterResourceWhitelist: [], namespaceResourceBlacklist: [{ group: "*", kind: "*" }] });
  });

  it("#14.1 no Application may name the default project or an undeclared one", () => {
    expect(() => application({ ...base, project: "default" })).toThrow(/#14.1/);
    expect(() => application({ ...base, project: "team-x" })).toThrow(/#14.1/);
    expect(rootApplication({ ctx, repoURL: REPO }).spec.project).toBe("platform");
  });
});

describe("#14.1 Applications component registers the projects first", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  it("#14.1 AppProjects and the default lockdown patch, in the argocd namespace", async () => {
    const { Applications } = await import("../components/gitops/applications");
    new Applications("apps", { ctx, repoURL: REPO, appNamespaces: ["sample-app"] });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const projects = findAll(created, "kubernetes:argoproj.io/v1alpha1:AppProject");
    expect(projects.map((p) => p.inputs.metadata.name).sort()).toEqual(["apps", "platform"]);
    const patch = find(created, "kubernetes:argoproj.io/v1alpha1:AppProjectPatch");
    expect(patch.inputs.metadata).toMatchObject({ name: "default", namespace: "argocd" });
    expect(patch.inputs.spec.sourceRepos).toEqual([]);
  });
});

describe("#14.1 whole stacks: projects after the chart, Applications after the projects, Git read as the reader", () => {
  it.each(["dev", "oci", "homelab"])("#14.1 %s: the order the engine gets, and who Argo CD reads Git as", async (stack) => {
    const { runStack } = await import("./helpers/stack");
    const run = await runStack(stack);
    const regs = [...run.engine.resources.values()];
    const chart = regs.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.name === "argocd")!;
    const projects = regs.filter((r) => r.type === "kubernetes:argoproj.io/v1alpha1:AppProject" || r.type === "kubernetes:argoproj.io/v1alpha1:AppProjectPatch");
    expect(projects.map((p) => p.inputs.metadata.name).sort()).toEqual(["apps", "default", "platform"]);
    for (const p of projects) expect(p.dependencies, `${p.name} waits for the chart (CRD, argocd-server)`).toContain(chart.urn);
    const apps = regs.filter((r) => r.type === "kubernetes:argoproj.io/v1alpha1:Application");
    expect(apps.length).toBeGreaterThan(0);
    for (const a of apps) {
      for (const p of projects) expect(a.dependencies, `${a.name} waits for ${p.name}`).toContain(p.urn);
      expect(DECLARED.includes(a.inputs.spec.project)).toBe(true);
    }
    // The chart renders no AppProject of its own (argo-cd templates/argocd-configs/projects.yaml: only server.additionalProjects).
    expect(chart.inputs.values?.server?.additionalProjects).toBeUndefined();
    const repo = find(run.created, "kubernetes:core/v1:Secret", (c) => c.name === "secret-argocd-repo-platform-apps");
    expect(plain(repo.inputs.stringData).username).toBe("argocd-reader");
  }, 30_000);
});
