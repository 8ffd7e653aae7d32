// Everything that runs on the cluster, in dependency order. Composition only: each component owns
// its namespace, policies and objects; this file decides who waits for whom.
import * as pulumi from "@pulumi/pulumi";
import { ClusterContext } from "./lib/context";
import { PlatformSecrets } from "./lib/secrets";
import { images } from "./lib/versions";
import { stableYaml } from "./cluster/k3s-config";
import { Gitea } from "./gitops/gitea";
import { Registry } from "./gitops/registry";
import { Runner } from "./gitops/runner";
import { ArgoCd } from "./gitops/argocd";
import { Applications, application } from "./gitops/applications";
import { PROJECTS } from "./gitops/projects";
import { BOOTSTRAP_ORG, BootstrapRepo, GIT_READER_USER, releaseWorkflow } from "./gitops/bootstrap-repo";
import { RUNNER_TOKEN_KEY, RUNNER_TOKEN_SECRET } from "./gitops/runner-config";
import { ArgoRollouts } from "./delivery/rollouts";
import { Istio } from "./mesh/istio";
import { Kiali } from "./mesh/kiali";
import { Prometheus } from "./monitoring/prometheus";
import { KubeStateMetrics } from "./monitoring/kube-state-metrics";
import { deployDir, SampleApp, SAMPLE_APP_IGNORE_DIFFERENCES, SAMPLE_APP_NAMESPACE, SAMPLE_APP_SYNC_OPTIONS, SAMPLE_IMAGE_REPOSITORY } from "./apps/sample-app";
import { Backups } from "./backup/backups";
import { BackupStore } from "./backup/store";
import { backupNamespaces } from "./backup/jobs";
import { CertManager } from "./tls/cert-manager";
import { PlatformTls } from "./tls/tls";

export interface PlatformServices {
  readonly gitea: Gitea;
  readonly registry: Registry;
  readonly argocd: ArgoCd;
  readonly rollouts: ArgoRollouts;
  readonly istio: Istio;
  readonly prometheus: Prometheus;
  readonly tls: PlatformTls;
}

/** The Argo CD Application for the sample app, kept in Git under argocd/ (the root app syncs it). */
export function sampleAppApplication(ctx: ClusterContext, repoURL: string): string {
  return stableYaml(application({
    name: "sample-app", project: PROJECTS.apps, repoURL, path: deployDir(ctx), destinationNamespace: SAMPLE_APP_NAMESPACE,
    // The stack creates the namespace (pull secret, DB password), so Argo CD must not own it.
    createNamespace: false, usesCrds: true, tier: "app",
    // The Rollout owns the VirtualService weights during a canary; selfHeal must not reset them.
    ignoreDifferences: SAMPLE_APP_IGNORE_DIFFERENCES.map((d) => ({ ...d, jqPathExpressions: [...d.jqPathExpressions] })),
    extraSyncOptions: [...SAMPLE_APP_SYNC_OPTIONS],
  }));
}

export function platformServices(ctx: ClusterContext, secrets: PlatformSecrets, opts: pulumi.ComponentResourceOptions): PlatformServices {
  const after = (...deps: pulumi.Resource[]): pulumi.ComponentResourceOptions => ({ ...opts, dependsOn: deps });

  // Monitoring and mesh first: the others' NetworkPolicies and scrapes point at them.
  const prometheus = new Prometheus("prometheus", { ctx }, opts);
  new KubeStateMetrics("kube-state-metrics", { ctx, extraNamespaces: [SAMPLE_APP_NAMESPACE, ...backupNamespaces(ctx)] }, after(prometheus));
  const istio = new Istio("istio", { ctx }, opts);
  new Kiali("kiali", { ctx }, after(istio));
  // TLS for every UI: cert-manager's CRDs and webhook before any issuer, the Certificates next to
  // the gateway (istio-system) and served through its IngressClass.
  const certManager = new CertManager("cert-manager", { ctx }, opts);
  const tls = new PlatformTls("tls", { ctx, tls: ctx.tls ?? { issuer: "platform-ca" }, dependsOn: [certManager.chart, istio] }, opts);
  // PM-16: the Rollouts CRDs and controller exist before anything creates a Rollout.
  const rollouts = new ArgoRollouts("argo-rollouts", { ctx }, opts);

  // Git, registry, CI.
  const gitea = new Gitea("gitea", {
    ctx, adminPassword: secrets.giteaAdminPassword, fingerprintKey: secrets.fingerprintKey,
  }, opts);
  const registry = new Registry("registry", { ctx, password: secrets.registryPassword, pushPassword: secrets.registryPushPassword }, opts);
  // Registered for the platform organisation only, with the token the bootstrap Job fetches (issue 14).
  const runner = new Runner("runner", {
    ctx,
    org: BOOTSTRAP_ORG, giteaClusterIP: gitea.clusterIP, registryClusterIP: registry.clusterIP, jobImage: images.runnerJob,
  }, after(gitea, registry));

  // Argo CD reads the bootstrap repository as a read collaborator the bootstrap Job creates
  // (REQUIRE_SIGNIN_VIEW is on), never as the site admin (#14.1).
  const argocd = new ArgoCd("argocd", {
    ctx, adminPassword: secrets.argocdAdminPassword, guestPassword: secrets.guestPassword,
    gitUsername: GIT_READER_USER, gitPassword: secrets.gitReaderPassword,
  }, opts);

  // The sample app: its namespace, pull secret and DB password come from the stack; its manifests
  // go to Git and reach the cluster through Argo CD (PM-30, PM-31).
  const app = new SampleApp("sample-app", {
    ctx, registryPassword: secrets.registryPassword, dbPassword: secrets.databasePassword,
  }, after(istio, rollouts));
  // Backups of Gitea, the registry, the app's database and the K3s datastore, in those namespaces.
  // Their bucket, key and password are not on the cluster: no deletedWith (store.ts says why).
  const store = new BackupStore("backup-store", { backup: ctx.backup! }, { ...opts, deletedWith: undefined });
  new Backups("backups", { ctx, store }, after(gitea, registry, app));
  // What the stack owns in Git (bootstrap-repo.ts OWNED_LIST): the files it renders follow it;
  // app/ is seeded once and is the user's; the image tag in the Rollout is CI's.
  const files = ctx.endpoints.gitea.runnerUrl.apply((serverUrl) => ({
    ...app.manifestFiles,
    [`argocd/sample-app.yaml`]: sampleAppApplication(ctx, argocd.repoUrl),
    ".gitea/workflows/release.yaml": releaseWorkflow({
      ctx, serverUrl, image: SAMPLE_IMAGE_REPOSITORY, manifests: [`${deployDir(ctx)}/rollout.yaml`],
    }),
  }));
  const bootstrap = new BootstrapRepo("bootstrap-repo", {
    ctx, adminUsername: gitea.adminUser, adminPassword: gitea.adminPassword, registryPassword: secrets.registryPushPassword,
    readerPassword: secrets.gitReaderPassword, botPassword: secrets.ciBotPassword,
    fingerprintKey: secrets.fingerprintKey, files, initialFiles: app.sourceFiles,
    keepImageTags: [`${ctx.endpoints.registry.host}/${SAMPLE_IMAGE_REPOSITORY}`], dependsOn: [gitea],
    runnerToken: { namespace: runner.namespace, secretName: RUNNER_TOKEN_SECRET, key: RUNNER_TOKEN_KEY, after: [runner.namespaceResource] },
  }, opts);
  // PM-28: the root app syncs only once the platform (CRDs, mesh) and the content exist.
  new Applications("applications", {
    ctx, repoURL: bootstrap.repoUrl, appNamespaces: [SAMPLE_APP_NAMESPACE], dependsOn: [argocd.chart, bootstrap.job, rollouts, istio, app],
  }, opts);

  return { gitea, registry, argocd, rollouts, istio, prometheus, tls };
}
