// Requests and limits for every container the platform runs, ours and the charts', per size class.
// The budget (PM-07) sums exactly these, so what is checked is what is deployed.
import { Resources } from "./budget";

export type SizeClass = "small" | "standard";

export type ContainerKey =
  | "gitea" | "actRunner" | "dind" | "registry"
  | "argocdController" | "argocdServer" | "argocdRepoServer" | "argocdRedis"
  | "rolloutsController"
  | "istiod" | "istioGateway" | "istioProxy" | "kiali"
  | "prometheus" | "prometheusReload" | "kubeStateMetrics"
  | "sampleApi" | "samplePostgres";

const r = (cpu: string, memory: string, memoryLimit: string): Resources => ({
  requests: { cpu, memory },
  limits: { memory: memoryLimit },
});

const STANDARD: Record<ContainerKey, Resources> = {
  gitea: r("100m", "256Mi", "512Mi"),
  actRunner: r("50m", "64Mi", "256Mi"),
  dind: r("200m", "512Mi", "2Gi"),
  registry: r("50m", "64Mi", "256Mi"),
  argocdController: r("250m", "512Mi", "1Gi"),
  argocdServer: r("50m", "128Mi", "256Mi"),
  argocdRepoServer: r("100m", "256Mi", "512Mi"),
  argocdRedis: r("50m", "64Mi", "128Mi"),
  rolloutsController: r("50m", "128Mi", "256Mi"),
  istiod: r("100m", "256Mi", "512Mi"),
  istioGateway: r("100m", "128Mi", "256Mi"),
  istioProxy: r("20m", "64Mi", "256Mi"),
  kiali: r("50m", "128Mi", "512Mi"),
  prometheus: r("200m", "512Mi", "1Gi"),
  prometheusReload: r("10m", "16Mi", "32Mi"),
  kubeStateMetrics: r("20m", "64Mi", "128Mi"),
  sampleApi: r("50m", "64Mi", "128Mi"),
  samplePostgres: r("100m", "256Mi", "512Mi"),
};

/** dev: a laptop's Docker; everything smaller, the total under 4 GiB of requests (issue target). */
const SMALL: Record<ContainerKey, Resources> = {
  ...STANDARD,
  gitea: r("50m", "192Mi", "384Mi"),
  dind: r("100m", "256Mi", "1Gi"),
  argocdController: r("100m", "256Mi", "768Mi"),
  argocdRepoServer: r("50m", "128Mi", "512Mi"),
  istiod: r("50m", "192Mi", "384Mi"),
  istioGateway: r("50m", "64Mi", "256Mi"),
  istioProxy: r("10m", "48Mi", "192Mi"),
  kiali: r("20m", "96Mi", "384Mi"),
  prometheus: r("100m", "256Mi", "768Mi"),
  samplePostgres: r("50m", "128Mi", "384Mi"),
};

export const SIZES: Record<SizeClass, Record<ContainerKey, Resources>> = { small: SMALL, standard: STANDARD };

export function sizeOf(size: SizeClass, key: ContainerKey): Resources {
  return SIZES[size][key];
}
