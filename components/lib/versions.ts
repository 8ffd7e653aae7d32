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

// Images are pinned by tag AND by the digest of their multi-arch index (manifest list), never a
// platform manifest's: the index resolves to linux/amd64 and linux/arm64 alike. A digest is taken
// only from stored public material (repository + path named in each comment), cross-checked where a
// second source had it; none is made up. A pin without a digest is in UNPINNED_DIGESTS with why
// (test/supply-chain.test.ts fails on any other). Moving a digest rolls the pods that run it.
export const images = {
  /**
   * Gitea, rootless variant: the chart's image.rootless appends -rootless, and the bootstrap and backup
   * Jobs run the same image (go-gitea/gitea releases 1.27.3; the pre-shared runner token needs >= 1.23).
   * Index digest: the same in 4 repositories, docker.gitea.com and docker.io alike (find_string
   * "gitea:1.27.3-rootless@sha256", e.g. a Go images table `giteaImage` and a compose test asserting it).
   */
  gitea: "docker.gitea.com/gitea:1.27.3-rootless@sha256:1c17ecaead42eb3b5391553d8708103a4beb0e86edf5b9ebc1eb269c318845f2",
  /** gitea/act_runner releases: 0.2.13, the last 0.2.x; env and config.yaml keys as documented in its README. */
  actRunner: "docker.io/gitea/act_runner:0.2.13",
  /**
   * Image for workflow jobs labelled ubuntu-latest (git + node for actions/checkout); docker-library/official-images library/node.
   * Index digest in 5 repositories' Dockerfiles (`FROM [docker.io/library/]node:24.19.0-bookworm@sha256:4196d66a...`).
   */
  runnerJob: "docker.io/library/node:24.19.0-bookworm@sha256:4196d66a565c6f195728d9952f161f4adfe2ad753052a08b7ec7f1c5a6bda42b",
  /**
   * docker:dind pinned to 28: Docker 29 broke act_runner's act fork (late 2025).
   * Index digest in 6 repositories (shell, TypeScript, PowerShell pins of `docker.io/library/docker:28.5.2-dind@sha256:2a232a42...`).
   */
  dind: "docker.io/library/docker:28.5.2-dind@sha256:2a232a42256f70d78e3cc5d2b5d6b3276710a0de0596c145f627ecfae90282ac",
  /**
   * distribution/distribution v3 (official image `registry`, docker-library/official-images library/registry): 3.1.1.
   * Index digest in 6 repositories, one noting it as the manifest-list digest checked on Docker Hub on
   * 2026-08-03 (an earlier build, 325b4b29..., is also pinned elsewhere: official images are rebuilt).
   */
  registry: "docker.io/library/registry:3.1.1@sha256:1be55279f18a2fe1a74edf2664cac61c1bea305b7b4642dab412e7affdcb3e33",
  /**
   * kubernetes/kube-state-metrics CHANGELOG: v2.20.0 watches MutatingAdmissionPolicy v1 (Kubernetes 1.36+), so 2.19.x for K3s 1.34.
   * Index digest in 8 repositories (a chart README's image.tag, a nix pullImage with arch amd64, digest tables).
   */
  kubeStateMetrics: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.19.1@sha256:85108987d044b18a098126732f98602df408888c0f7d456241f5abefb9744bc1",
  /**
   * docker-library/official-images library/postgres: 17.11 (Debian variant, uid 999).
   * Index digest in 9 repositories; one records it as the OCI index whose linux/amd64 child is e31e3d53...
   * and another ran its linux/arm64/v8 child 86fa57b4... (so both platforms are in it).
   */
  postgres: "docker.io/library/postgres:17.11@sha256:d74eeac9a635390a49bc21bd49fccd973de707e2a53a76ac49b552b8712ec46f",
  /** stefanprodan/podinfo releases: 6.14.1 (multi-arch; port 9898, /healthz, /readyz, /metrics). Not rendered by the stack. */
  samplePlaceholder: "ghcr.io/stefanprodan/podinfo:6.14.1",
  /**
   * docker-library/official-images library/python: base of the sample app's Dockerfile.
   * Index digest: "python:3.12-slim's multi-arch index digest, read from Docker Hub on 2026-09-28" in one
   * repository's Dockerfile, the same as 3.12.14-slim in 3 others and run on linux/arm64 and linux/amd64.
   */
  python: "docker.io/library/python:3.12.14-slim@sha256:f77ac9e44ae96ef2c90b8053ea08c31f8be030f824196b0ae4db6d462c84e51f",
  /**
   * aquasecurity/trivy releases: 0.74.0. Never a 0.69.4-0.69.6 build (compromised, March 2026).
   * Index digest in 10 repositories, docker.io, ghcr.io and mirror.gcr.io alike; one lists its linux/amd64 child separately.
   */
  trivy: "docker.io/aquasec/trivy:0.74.0@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969",
  /**
   * restic/restic .github/workflows/docker.yml @ v0.19.1 (2026-07-05): ghcr.io, linux/386, amd64, arm, arm64; tag = version without "v". Backups (components/backup).
   * Index digest of the ghcr.io image in 4 repositories (Docker Hub's restic/restic:0.19.1 is another index, 136600b6...).
   */
  restic: "ghcr.io/restic/restic:0.19.1@sha256:2f0373803493361f9304a57150d464677f69a9dad487afec202105aafb2592f2",
  /**
   * restic/rest-server .goreleaser.yml @ v0.14.0: docker_manifests restic/rest-server:<version> (amd64, arm64v8, ...). The host-path backup target.
   * Index digest in 7 repositories (one more pins e117e428..., a single Renovate-managed file).
   */
  resticRestServer: "docker.io/restic/rest-server:0.14.0@sha256:d2aff06f47eb38637dff580c3e6bce4af98f386c396a25d32eb6727ec96214a5",
} as const;

/**
 * Images the pinned charts render, given to them through their values (each chart's template named).
 * The version is the chart's own default (its appVersion or values.yaml), so a chart bump moves these too.
 */
export const chartImages = {
  /** argo-cd 10.1.1 appVersion; per-component image.tag (templates/<component>/deployment.yaml: repository:tag). In 2 repositories' Dockerfiles (`FROM quay.io/argoproj/argocd:v3.4.4@sha256:2fb3efa9...`, one multi-arch with TARGETARCH). */
  argocd: "quay.io/argoproj/argocd:v3.4.4@sha256:2fb3efa9eaa42382acb39c9a1485eaac7a1ad7a09e8aa7da7143ca256fa6da09",
  /** argo-cd 10.1.1 values.yaml redis.image (ECR Public's copy of the official image); index digest in 5 repositories, docker.io and public.ecr.aws alike. */
  argocdRedis: "ecr-public.aws.com/docker/library/redis:8.2.3-alpine@sha256:08ad0b1d280850169a790dba1393ff7a90aef951fc19632cf4d3ce4f78e679ba",
  /** argo-rollouts 2.41.0 appVersion. */
  argoRollouts: "quay.io/argoproj/argo-rollouts:v1.9.0",
  /** istiod 1.30.3: pilot.image (a full reference when it contains "/"). */
  istioPilot: "docker.io/istio/pilot:1.30.3",
  /** istiod 1.30.3: global.proxy.image, the injected sidecar and the gateway's `image: auto`. */
  istioProxy: "docker.io/istio/proxyv2:1.30.3",
  /** kiali-server 2.29.0: deployment.image_name / image_version. */
  kiali: "quay.io/kiali/kiali:v2.29.0",
  /** prometheus 29.27.0 appVersion; server.image.tag (templates/deploy.yaml: repository:tag). Index digest in 10 repositories, quay.io and docker.io (prom/prometheus) alike. */
  prometheus: "quay.io/prometheus/prometheus:v3.14.0@sha256:5ce7540c3c00ef4ab0c9d2c995c6a5b9c421f44b4a115d97a2c7af3b1c21cbb0",
} as const;

/**
 * The honest backlog: pins that still have only a tag, each with why. Renovate's pinDigests proposes
 * their digests (renovate.json); test/supply-chain.test.ts fails on an undigested image not listed here
 * and on an entry here that has a digest after all.
 */
export const UNPINNED_DIGESTS: Readonly<Record<string, string>> = {
  "images.actRunner": "one stored source only (a start script), not cross-checked: an amd64-only manifest would stop the ARM64 runner",
  "images.samplePlaceholder": "no digest for podinfo 6.14.1 in stored material; not rendered by the stack (the sample app builds its own image)",
  "chartImages.argoRollouts": "no digest for quay.io/argoproj/argo-rollouts:v1.9.0 in stored material; the chart renders the tag",
  "chartImages.istioPilot": "no digest for docker.io/istio/pilot:1.30.3 in stored material (only 1.30.2 pins)",
  "chartImages.istioProxy": "no digest for docker.io/istio/proxyv2:1.30.3 in stored material",
  "chartImages.kiali": "no digest for quay.io/kiali/kiali:v2.29.0 in stored material",
};

/** Index digests of rancher/k3s per K3s version (k3d's node image). v1.35.9-k3s1: 2 repositories' k3d configs. */
export const K3S_IMAGE_DIGESTS: Readonly<Record<string, string>> = {
  "v1.35.9+k3s1": "sha256:ec9868c6a38d4e8c1869832fb5fd1eb8473c39794a0b44d2b952e7ba911951bc",
};

/**
 * Downloads still run without a pinned sha256, by the URL they fetch (its fixed part) -> where and why (test/supply-chain.test.ts
 * accepts no other unchecked curl/wget from a release host).
 */
export const UNPINNED_DOWNLOADS: Readonly<Record<string, string>> = {
  "https://raw.githubusercontent.com/k3s-io/k3s/":
    "components/cluster/scripts/install-k3s.sh: K3s's install.sh at the pinned tag: no stored copy of that tag's file to hash here (k3s-io/k3s is over the snapshot limit); the installer checks the k3s binary against the release's sha256sum-<arch>.txt itself",
};

/**
 * sha256 of the release workflow's Docker CLI (download.docker.com/linux/static/stable/<uname -m>/docker-<v>.tgz),
 * per `uname -m`. Docker publishes no checksum file there; source: cashapp/hermit-packages docker-cli.hcl
 * @ f0517fd7 (sha256sums), the same in 4 other repositories for both architectures.
 */
export const DOCKER_CLI_SHA256: Readonly<Record<string, { readonly x86_64: string; readonly aarch64: string }>> = {
  "28.5.2": {
    x86_64: "ea90cfd12e1eeb12aa1c971741adb8bd4ed88e2a574eaac13f5029a1dbc6300d",
    aarch64: "9e4f82996ab790724094475ebed33a736434bfe5d45231b676fef22ffb80044d",
  },
};

export interface ImageRef {
  /** registry/repository */
  readonly name: string;
  readonly tag: string;
  /** "sha256:<64 hex>", or undefined for a tag-only pin. */
  readonly digest?: string;
}

const IMAGE_REF = /^([a-z0-9.-]+(?::\d+)?(?:\/[a-z0-9._-]+)+):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})(?:@(sha256:[0-9a-f]{64}))?$/;

/** Splits `name:tag[@sha256:digest]`; throws on anything else (no tag, a short digest, `latest`). */
export function parseImage(ref: string): ImageRef {
  const m = IMAGE_REF.exec(ref);
  if (!m || m[2] === "latest") throw new Error(`image "${ref}" is not registry/repository:tag[@sha256:<64 hex>]`);
  return { name: m[1], tag: m[2], ...(m[3] ? { digest: m[3] } : {}) };
}

/** `tag` or `tag@sha256:...`: what charts that build `repository:tag` take as their tag value. */
export function tagWithDigest(ref: string): string {
  const i = parseImage(ref);
  return i.digest ? `${i.tag}@${i.digest}` : i.tag;
}

/** The rancher/k3s image for k3d: Docker tags use "-" where K3s versions use "+". */
export function k3sImage(k3sVersion: string = versions.k3s): string {
  const digest = K3S_IMAGE_DIGESTS[k3sVersion];
  return `rancher/k3s:${k3sVersion.replace("+", "-")}${digest ? `@${digest}` : ""}`;
}
