// Typed AnalysisTemplate builder: interval always with count and failureLimit set (PM-25), the empty
// Prometheus result guarded in the success condition (PM-26), the address from the endpoints object.
import { Endpoints } from "../lib/endpoints";
import { K8sObject } from "../lib/k8s";
import { checkDuration } from "./rollout";

export interface AnalysisTemplateArgs {
  readonly name: string;
  readonly namespace: string;
  /** Where Prometheus is: the address is ctx.endpoints.prometheus.internalUrl, never hard-coded. */
  readonly endpoints: Pick<Endpoints, "prometheus">;
  /** PromQL returning one sample, e.g. a success ratio; may use {{args.<name>}}. */
  readonly query: string;
  /** Arguments the template declares (each {{args.x}} in the query must be one); a value makes it a default. */
  readonly args?: readonly { readonly name: string; readonly value?: string }[];
  /** The first sample must be >= (or <=, see comparison) this number. */
  readonly threshold: number;
  /** @default ">=" (success ratio); "<=" for error rates and latencies. */
  readonly comparison?: ">=" | "<=";
  /** @default "success-rate" */
  readonly metricName?: string;
  /** Time between measurements. @default "30s" (only together with count: PM-25) */
  readonly interval?: string;
  /** Number of measurements; required whenever interval is given (PM-25). @default 5 */
  readonly count?: number;
  /** Failed measurements tolerated before the analysis fails. @default 1 */
  readonly failureLimit?: number;
  /** Wait before the first measurement, e.g. "30s". */
  readonly initialDelay?: string;
}

/** PM-26: an empty result (no traffic yet) is not a failure. */
export function successCondition(threshold: number, comparison: ">=" | "<=" = ">="): string {
  if (typeof threshold !== "number" || !Number.isFinite(threshold)) throw new Error(`analysis threshold must be a finite number, got ${threshold}`);
  if (comparison !== ">=" && comparison !== "<=") throw new Error(`analysis comparison must be >= or <=, got ${comparison}`);
  return `len(result) == 0 || result[0] ${comparison} ${threshold}`;
}

const ARG_REF = /\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}/g;

export function analysisTemplate(args: AnalysisTemplateArgs): K8sObject {
  const what = `analysisTemplate ${args.name}`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(args.name ?? "")) throw new Error(`${what}: name must be a DNS-1123 label`);
  if (!args.namespace) throw new Error(`${what}: namespace is required`);
  if (args.interval !== undefined && args.count === undefined) {
    throw new Error(`${what}: interval without count runs indefinitely and is rejected (PM-25); set count`);
  }
  const interval = args.interval ?? "30s";
  checkDuration(interval, `${what} interval`);
  const count = args.count ?? 5;
  if (!Number.isInteger(count) || count < 1) throw new Error(`${what}: count must be an integer >= 1, got ${count} (PM-25)`);
  const failureLimit = args.failureLimit ?? 1;
  if (!Number.isInteger(failureLimit) || failureLimit < 0 || failureLimit >= count) {
    throw new Error(`${what}: failureLimit must be an integer 0..count-1, got ${failureLimit}`);
  }
  if (args.initialDelay !== undefined) checkDuration(args.initialDelay, `${what} initialDelay`);
  if (typeof args.query !== "string" || args.query.trim() === "") throw new Error(`${what}: query is required`);
  const address = args.endpoints?.prometheus?.internalUrl;
  if (!address) throw new Error(`${what}: endpoints.prometheus.internalUrl is required`);
  const declared = new Set((args.args ?? []).map((a) => a.name));
  for (const m of args.query.matchAll(ARG_REF)) {
    if (!declared.has(m[1])) throw new Error(`${what}: query uses {{args.${m[1]}}} but args does not declare it`);
  }
  const condition = successCondition(args.threshold, args.comparison);
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AnalysisTemplate",
    metadata: { name: args.name, namespace: args.namespace },
    spec: {
      ...(args.args?.length ? { args: args.args.map((a) => ({ name: a.name, ...(a.value !== undefined ? { value: a.value } : {}) })) } : {}),
      metrics: [
        {
          name: args.metricName ?? "success-rate",
          interval,
          count,
          failureLimit,
          ...(args.initialDelay ? { initialDelay: args.initialDelay } : {}),
          successCondition: condition,
          provider: { prometheus: { address, query: args.query } },
        },
      ],
    },
  };
}
