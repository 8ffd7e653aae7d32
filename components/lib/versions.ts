// Every version the platform installs, in one file. Each pin names the upstream source it was
// checked against. Images are multi-arch (linux/amd64 + linux/arm64): ARM64 (OCI A1) is a
// first-class target. Never `latest`.

export interface ChartPin {
  readonly repo: string;
  readonly chart: string;
  readonly version: string;
}

export const versions = {
  /** K3s release, stable channel; source: k3s-io/k3s releases (v1.35.9+k3s1, 2026-09-30; 1.34 is end of life since 2026-10-27). */
  k3s: "v1.35.9+k3s1",
  /** k3d CLI the dev stack expects; source: k3d-io/k3d releases v5.9.0, schema pkg/config/v1alpha5/schema.json. */
  k3d: "v5.9.0",
  /** kubectl-argo-rollouts on servers (PM-16), same release as the controller (argo-rollouts chart 2.41.0 appVersion). */
  kubectlArgoRollouts: "v1.9.0",
  /** kubectl on the e2e runner (scripts/e2e/install-tools.sh), K3s's minor; dl.k8s.io/release/v1.35.9 (kubectl.sha256 next to it). */
  kubectl: "v1.35.9",
  /** Pulumi CLI on the e2e runner: the release of the @pulumi/pulumi SDK in package-lock.json; pulumi/homebrew-tap Formula/pulumi.rb at 3.248.0. */
  pulumiCli: "v3.248.0",
} as const;

export const charts = {
  /** argoproj/argo-helm charts/argo-cd/Chart.yaml: 10.1.1, appVersion v3.4.4. */
  argoCd: { repo: "https://argoproj.github.io/argo-helm", chart: "argo-cd", version: "10.1.1" },
  /** argoproj/argo-helm charts/argo-rollouts/Chart.yaml: 2.41.0, appVersion v1.9.0. */
  argoRollouts: { repo: "https://argoproj.github.io/argo-helm", chart: "argo-rollouts", version: "2.41.0" },
  /** gitea/helm-gitea Chart.yaml: 12.7.0 (no `actions` section since 12.0.0; http Service headless by default). */
  gitea: { repo: "https://dl.gitea.com/charts/", chart: "gitea", version: "12.7.0" },
  /** istio/istio manifests/charts (chart version = Istio version); 1.30 supports Kubernetes 1.32+ (istio.io supported releases). */
  istioBase: { repo: "https://istio-release.storage.googleapis.com/charts", chart: "base", version: "1.30.3" },
  istiod: { repo: "https://istio-release.storage.googleapis.com/charts", chart: "istiod", version: "1.30.3" },
  istioGateway: { repo: "https://istio-release.storage.googleapis.com/charts", chart: "gateway", version: "1.30.3" },
  /** kiali/helm-charts kiali-server/Chart.yaml: 2.29.0 (app v2.29.0). */
  kiali: { repo: "https://kiali.org/helm-charts", chart: "kiali-server", version: "2.29.0" },
  /** prometheus-community/helm-charts charts/prometheus/Chart.yaml: 29.27.0 (Prometheus v3.14.0). */
  prometheus: { repo: "https://prometheus-community.github.io/helm-charts", chart: "prometheus", version: "29.27.0" },
  /**
   * cert-manager/cert-manager releases: v1.21.2, the newest stable patch (1.21 line, 2026-07; v1.21.2 per its
   * release notes as quoted in sylva-projects/sylva-core!9292). Chart read at release-1.21 (2026-08-21,
   * deploy/charts/cert-manager identical to tag v1.21.1). Images quay.io/jetstack/cert-manager-* at the
   * chart's appVersion, multi-arch (amd64, arm64, arm, ppc64le, s390x).
   */
  certManager: { repo: "https://charts.jetstack.io", chart: "cert-manager", version: "v1.21.2" },
} as const satisfies Record<string, ChartPin>;

export const images = {
  /** Gitea server image (go-gitea/gitea releases 1.27.3); the pre-shared runner token needs >= 1.23 (services/actions/init.go). */
  gitea: "docker.gitea.com/gitea:1.27.3",
  /** gitea/act_runner releases: 0.2.13, the last 0.2.x; env and config.yaml keys as documented in its README. */
  actRunner: "docker.io/gitea/act_runner:0.2.13",
  /** Image for workflow jobs labelled ubuntu-latest (git + node for actions/checkout); docker-library/official-images library/node. */
  runnerJob: "docker.io/library/node:24.19.0-bookworm",
  /** docker:dind pinned to 28: Docker 29 broke act_runner's act fork (late 2025). */
  dind: "docker.io/library/docker:28.5.2-dind",
  /** distribution/distribution v3 (official image `registry`, docker-library/official-images library/registry): 3.1.1. */
  registry: "docker.io/library/registry:3.1.1",
  /** kubernetes/kube-state-metrics CHANGELOG: v2.20.0 watches MutatingAdmissionPolicy v1 (Kubernetes 1.36+), so 2.19.x for K3s 1.34. */
  kubeStateMetrics: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.19.1",
  /** docker-library/official-images library/postgres: 17.11 (Debian variant, uid 999). */
  postgres: "docker.io/library/postgres:17.11",
  /** stefanprodan/podinfo releases: 6.14.1 (multi-arch; port 9898, /healthz, /readyz, /metrics). */
  samplePlaceholder: "ghcr.io/stefanprodan/podinfo:6.14.1",
  /** docker-library/official-images library/python: base of the sample app's Dockerfile. */
  python: "docker.io/library/python:3.12.14-slim",
  /** aquasecurity/trivy releases: 0.74.0. Never a 0.69.4-0.69.6 build (compromised, March 2026). */
  trivy: "docker.io/aquasec/trivy:0.74.0",
  /** restic/restic .github/workflows/docker.yml @ v0.19.1 (2026-07-05): ghcr.io, linux/386, amd64, arm, arm64; tag = version without "v". Backups (components/backup). */
  restic: "ghcr.io/restic/restic:0.19.1",
  /** restic/rest-server .goreleaser.yml @ v0.14.0: docker_manifests restic/rest-server:<version> (amd64, arm64v8, ...). The host-path backup target. */
  resticRestServer: "docker.io/restic/rest-server:0.14.0",
} as const;

/** The rancher/k3s image for k3d: Docker tags use "-" where K3s versions use "+". */
export function k3sImage(k3sVersion: string = versions.k3s): string {
  return `rancher/k3s:${k3sVersion.replace("+", "-")}`;
}
