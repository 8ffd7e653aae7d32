// Requests and limits for every container the platform runs, ours and the charts', per size class.
// The budget (PM-07) sums exactly these, so what is checked is what is deployed.
//
// Requests are what each component needs AT REST on this platform (a handful of Applications,
// five Envoys, one repository), so that apps keep at least half of a 2 OCPU / 12 GB Always Free
// node (test/budget.test.ts). Under load, containers use idle CPU above their request (no CPU
// limits anywhere); requests only decide scheduling and each one's share under contention. Memory
// is not compressible, so memory requests stay at or above the at-rest working set and limits are
// the hard stop. Sources per line: a chart's own default or commented example at the pinned
// version (versions.ts), upstream docs, or a measurement of the Debian-packaged stand-in (amd64,
// 240 s after a 60 s warm-up, CPU from /proc/<pid>/stat, memory as PSS).
import { Resources } from "./budget";

export type SizeClass = "small" | "standard";

export type ContainerKey =
  | "gitea" | "actRunner" | "dind" | "registry" | "registryPush"
  | "argocdController" | "argocdServer" | "argocdRepoServer" | "argocdRedis"
  | "rolloutsController"
  | "istiod" | "istioGateway" | "istioProxy" | "kiali"
  | "prometheus" | "kubeStateMetrics"
  | "sampleApi" | "samplePostgres" | "samplePasswordSync"
  | "backupJob" | "backupRestic" | "backupGiteaDump" | "backupSqlite" | "backupPgDump" | "restServer"
  | "certManagerController" | "certManagerWebhook" | "certManagerCainjector" | "certManagerStartupCheck" | "acmeSolver";

const r = (cpu: string, memory: string, memoryLimit: string): Resources => ({
  requests: { cpu, memory },
  limits: { memory: memoryLimit },
});

/** oci (2 OCPU / 12 GB) and homelab: one class, since at-rest needs do not grow with the host. */
const STANDARD: Record<ContainerKey, Resources> = {
  // Gitea docs: a Raspberry Pi 3 runs it for small workloads; at rest it answers act_runner's poll
  // every 2 s (runner-config.ts fetch_interval) and one Argo CD fetch per 3 min.
  gitea: r("50m", "256Mi", "512Mi"),
  // Idle: one FetchTask call every 2 s.
  actRunner: r("10m", "64Mi", "256Mi"),
  // Idle dockerd between jobs; builds burst above the request into idle CPU, up to the 2Gi limit.
  dind: r("50m", "512Mi", "2Gi"),
  // Measured distribution 2.8 (Debian docker-registry) idle: 0.0m CPU, 19 MiB.
  registry: r("10m", "64Mi", "256Mi"),
  // The read-write instance CI pushes to (#14.1): the same binary, idle between releases.
  registryPush: r("10m", "64Mi", "256Mi"),
  // argo-cd 10.1.1 values.yaml example request 250m/256Mi (any size of install); here 2 Applications
  // reconciled every 180 s, so below it. The heaviest idle controller: it caches every watched kind.
  argocdController: r("100m", "512Mi", "1Gi"),
  // argo-cd 10.1.1 example request 50m/64Mi; idle unless the UI is open.
  argocdServer: r("20m", "128Mi", "256Mi"),
  // argo-cd 10.1.1 example request 10m/64Mi; renders two Applications' manifests per refresh.
  argocdRepoServer: r("20m", "256Mi", "512Mi"),
  // argo-cd 10.1.1 example request 100m/64Mi; a cache that is idle between refreshes.
  argocdRedis: r("10m", "64Mi", "128Mi"),
  // argo-rollouts 2.41.0 example request 50m/64Mi; one Rollout, active only during a release.
  rolloutsController: r("20m", "128Mi", "256Mi"),
  // istiod 1.30.3 chart default 500m/2048Mi ("a small pilot install"); its demo profile 10m/100Mi;
  // istio.io "Performance and Scalability": 1 vCPU / 1.5 GB at 1000 services and 2000 sidecars. Here ~5 proxies.
  istiod: r("50m", "256Mi", "512Mi"),
  // gateway 1.30.3 chart default 100m/128Mi, demo profile 10m/40Mi; Envoy: 0.35 vCPU per 1000 rps (istio.io).
  istioGateway: r("20m", "128Mi", "256Mi"),
  // istiod 1.30.3 global.proxy default 100m/128Mi, demo profile 10m/40Mi: an idle sidecar.
  istioProxy: r("10m", "64Mi", "256Mi"),
  // kiali-server 2.29.0 chart default request 10m/64Mi (limit 1Gi).
  kiali: r("10m", "128Mi", "512Mi"),
  // Measured Prometheus 2.42 (Debian) with 10,361 head series at a 1m scrape: 0.4m CPU, 65 MiB.
  // The platform scrapes every 15 s (monitoring/scrape.ts): four times the samples, so expect a few
  // millicores and more head memory; the head grows until its first 2 h block and Kiali/Rollouts
  // queries add. prometheus 29.27.0 example request 500m/512Mi.
  prometheus: r("50m", "512Mi", "1Gi"),
  // kube-state-metrics chart example request 10m/32Mi; its README's general rule (0.1 core, 250 MiB)
  // scales with the cluster's objects, and ours watches a few namespaces of one node (PM-20).
  kubeStateMetrics: r("10m", "64Mi", "128Mi"),
  // Measured: the sample API (stdlib HTTP server) idle with a /health per minute, 0.2m CPU, 14 MiB.
  sampleApi: r("20m", "64Mi", "128Mi"),
  // Measured PostgreSQL 15 (Debian) idle, default config: 0.0m CPU, 27 MiB (all backends). The
  // pod's 20m / 256Mi / 512Mi is shared with its password-sync container (below).
  samplePostgres: r("15m", "240Mi", "480Mi"),
  // bash sleeping between checks, psql for a moment after a rotation.
  samplePasswordSync: r("5m", "16Mi", "32Mi"),
  // Backups (components/backup). CronJob pods run one at a time (hourly slots, 45-minute
  // deadlines), so the budget counts one pod: backupJob is the envelope of the largest backup pod's
  // effective requests and limits (max of its init containers, or its containers plus sidecars);
  // test/backup.test.ts fails when a backup pod outgrows it.
  backupJob: r("30m", "192Mi", "768Mi"),
  // Measured restic 0.14 (Debian) on 100 MB of new files: 117 MiB peak, 55 MiB incremental; S3
  // uploads buffer whole packs, so the limit leaves room.
  backupRestic: r("20m", "128Mi", "512Mi"),
  // `gitea dump` is the server's binary running one command; below the server's own request.
  backupGiteaDump: r("20m", "128Mi", "512Mi"),
  // Measured: Python's sqlite3 online backup of a 200 MB WAL database, 14 MiB peak, 0.6 s.
  backupSqlite: r("10m", "32Mi", "128Mi"),
  // Measured pg_dump 15 (Debian) of 200,000 rows (a 5 MB custom-format archive): 13 MiB peak, 0.1 s.
  backupPgDump: r("10m", "32Mi", "128Mi"),
  // restic/rest-server (host-path target only): an idle HTTP server in front of a directory.
  restServer: r("10m", "32Mi", "128Mi"),
  // cert-manager v1.21 (components/tls): the chart sets no resources (values.yaml `resources: {}`).
  // The controller watches Certificates, Orders, Challenges and the Secrets they own: five
  // certificates here, renewed every 60 days, so idle nearly always.
  certManagerController: r("10m", "64Mi", "256Mi"),
  // Answers admission calls for cert-manager's own kinds only (a handful per renewal).
  certManagerWebhook: r("5m", "32Mi", "128Mi"),
  // Patches caBundle into the webhook configurations; caches only what it injects.
  certManagerCainjector: r("5m", "64Mi", "256Mi"),
  // startupapicheck: one short Job per install or upgrade (not a long-running container: not budgeted).
  certManagerStartupCheck: r("5m", "32Mi", "64Mi"),
  // HTTP-01 solver pods (controller flags --acme-http01-solver-resource-*; upstream default
  // 10m/64Mi, limit 100m/64Mi): a static file server, one pod per pending challenge.
  acmeSolver: r("5m", "32Mi", "64Mi"),
};

/**
 * dev: a laptop's Docker; the same CPU as standard (needs at rest do not shrink), less memory, the
 * total under 4 GiB of requests (issue target). Never above standard (test/budget.test.ts).
 */
const SMALL: Record<ContainerKey, Resources> = {
  ...STANDARD,
  gitea: r("50m", "192Mi", "384Mi"),
  dind: r("50m", "256Mi", "1Gi"),
  argocdController: r("100m", "256Mi", "768Mi"),
  argocdRepoServer: r("20m", "128Mi", "512Mi"),
  istiod: r("50m", "192Mi", "384Mi"),
  istioGateway: r("20m", "64Mi", "256Mi"),
  istioProxy: r("10m", "48Mi", "192Mi"),
  kiali: r("10m", "96Mi", "384Mi"),
  prometheus: r("50m", "256Mi", "768Mi"),
  samplePostgres: r("15m", "112Mi", "352Mi"),
};

export const SIZES: Record<SizeClass, Record<ContainerKey, Resources>> = { small: SMALL, standard: STANDARD };

export function sizeOf(size: SizeClass, key: ContainerKey): Resources {
  return SIZES[size][key];
}

/**
 * Pods K3s itself deploys on every environment (k3d included) and the scheduler counts against the
 * same allocatable; we do not size them, but the budget must. coredns: k3s-io/k3s manifests/coredns.yaml
 * (requests 100m/70Mi, limit 170Mi). metrics-server: requests 100m/70Mi and no memory limit in the
 * K3s manifest (as listed by kubectl on a K3s 1.35-era cluster), counted here with limit = request.
 * local-path-provisioner and the servicelb pods set no requests.
 */
export const K3S_PACKAGED: Readonly<Record<"coredns" | "metricsServer", Resources>> = {
  coredns: r("100m", "70Mi", "170Mi"),
  metricsServer: r("100m", "70Mi", "70Mi"),
};
