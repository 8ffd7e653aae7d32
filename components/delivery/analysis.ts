// Typed AnalysisTemplate builder: interval always with count and failureLimit set (PM-25), the empty
// Prometheus result guarded in the success condition (PM-26), the address from the endpoints object,
// and, given the scrape interval, a timing under which every measurement judges fresh evidence.
import { Endpoints } from "../lib/endpoints";
import { K8sObject } from "../lib/k8s";
import { durationSeconds, formatDuration } from "../monitoring/scrape";
import { checkDuration } from "./rollout";

/** rate() needs two samples in its window; four leave three increments and survive a missed scrape. */
export const MIN_WINDOW_SCRAPES = 4;

export interface EvidenceTiming {
  /** Prometheus' scrape interval for the series the query reads (monitoring/scrape.ts). */
  readonly scrapeInterval: string;
  /** The query's rate window: every range selector in it. */
  readonly rateWindow: string;
  /** Time between measurements. */
  readonly interval: string;
  /** Wait before the first measurement. */
  readonly initialDelay: string;
}

/**
 * Timing derived from the scrape interval S (measured: 1m scrapes with a 2m window left the canary
 * query empty for 60-120 s, so measurements passed on no evidence and neighbours judged the same samples):
 * - window W = windowScrapes x S (>= 4 scrapes, so >= 3 increments per measurement);
 * - interval = W - S: measurement k's window (m - W, m] begins at measurement k-1's last sample, so
 *   neighbours share that one boundary sample and no increment. Each increment is judged once
 *   (failureLimit counts bad stretches, not one blip twice) and none is skipped. Argo takes the next
 *   measurement at FinishedAt + interval, a little later, which can drop an increment, never reuse one;
 * - initialDelay = W: setWeight precedes the analysis, so the first window holds only traffic of this
 *   step and, with traffic, is full; without any traffic it stays empty and passes (PM-26).
 */
export function evidenceTiming(scrapeInterval: string, rateWindow?: string, windowScrapes: number = MIN_WINDOW_SCRAPES): EvidenceTiming {
  const s = durationSeconds(scrapeInterval, "scrape interval");
  if (!Number.isInteger(windowScrapes) || windowScrapes < MIN_WINDOW_SCRAPES) {
    throw new Error(`evidenceTiming: windowScrapes must be an integer >= ${MIN_WINDOW_SCRAPES}, got ${windowScrapes}`);
  }
  const window = rateWindow ?? formatDuration(windowScrapes * s);
  const timing = { scrapeInterval, rateWindow: window, interval: formatDuration(durationSeconds(window, "rate window") - s), initialDelay: window };
  checkEvidence(timing, "evidenceTiming");
  return timing;
}

/** Throws unless the timing judges fresh, non-empty evidence (see evidenceTiming). */
export function checkEvidence(t: EvidenceTiming, what: string): void {
  const s = durationSeconds(t.scrapeInterval, `${what} scrapeInterval`);
  const w = durationSeconds(t.rateWindow, `${what} rateWindow`);
  const interval = durationSeconds(t.interval, `${what} interval`);
  const delay = durationSeconds(t.initialDelay, `${what} initialDelay`);
  if (w < MIN_WINDOW_SCRAPES * s) {
    throw new Error(`${what}: rate window ${t.rateWindow} is below ${MIN_WINDOW_SCRAPES} scrape intervals of ${t.scrapeInterval}: measurements see too few samples or none`);
  }
  if (interval < w - s) {
    throw new Error(`${what}: interval ${t.interval} is shorter than the rate window ${t.rateWindow} minus one scrape (${t.scrapeInterval}): neighbouring measurements would judge the same samples`);
  }
  if (delay < w) {
    throw new Error(`${what}: initialDelay ${t.initialDelay} is shorter than the rate window ${t.rateWindow}: the first measurements would find no evidence and pass`);
  }
}

/** Range selectors of a PromQL query, e.g. ["1m", "1m"]; subqueries are refused. */
export function rangeSelectors(query: string): string[] {
  return [...query.matchAll(/\[([^\]]*)\]/g)].map((m) => {
    if (m[1].includes(":")) throw new Error(`query uses a subquery [${m[1]}]: its samples are not the scraped ones`);
    return m[1].trim();
  });
}

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
  /**
   * More metrics judged the same way (threshold, timing, PM-25/26 guards): a run fails when any of
   * them fails, e.g. the same ratio seen from another side of the traffic.
   */
  readonly extraMetrics?: readonly { readonly name: string; readonly query: string }[];
  /** Time between measurements. @default "30s" (only together with count: PM-25) */
  readonly interval?: string;
  /** Number of measurements; required whenever interval is given (PM-25). @default 5 */
  readonly count?: number;
  /** Failed measurements tolerated before the analysis fails. @default 1 */
  readonly failureLimit?: number;
  /** Wait before the first measurement, e.g. "30s". */
  readonly initialDelay?: string;
  /**
   * Scrape interval and rate window of the query (evidenceTiming): when given, interval,
   * initialDelay and every range selector of the query are checked against them.
   */
  readonly evidence?: Pick<EvidenceTiming, "scrapeInterval" | "rateWindow">;
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
  const queries = [{ name: args.metricName ?? "success-rate", query: args.query }, ...(args.extraMetrics ?? [])];
  if (new Set(queries.map((q) => q.name)).size !== queries.length) throw new Error(`${what}: metric names must be unique`);
  const address = args.endpoints?.prometheus?.internalUrl;
  if (!address) throw new Error(`${what}: endpoints.prometheus.internalUrl is required`);
  const declared = new Set((args.args ?? []).map((a) => a.name));
  for (const q of queries) {
    for (const m of q.query.matchAll(ARG_REF)) {
      if (!declared.has(m[1])) throw new Error(`${what}: ${q.name} uses {{args.${m[1]}}} but args does not declare it`);
    }
  }
  if (args.evidence) {
    const { scrapeInterval, rateWindow } = args.evidence;
    checkEvidence({ scrapeInterval, rateWindow, interval, initialDelay: args.initialDelay ?? "0s" }, what);
    const ranges = queries.flatMap((q) => {
      const r = rangeSelectors(q.query);
      if (!r.length) throw new Error(`${what}: evidence is given but ${q.name} has no range selector`);
      return r;
    });
    for (const r of ranges) {
      if (durationSeconds(r, `${what} query range`) !== durationSeconds(rateWindow, `${what} rateWindow`)) {
        throw new Error(`${what}: query range [${r}] is not the rate window ${rateWindow}`);
      }
    }
  }
  const condition = successCondition(args.threshold, args.comparison);
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AnalysisTemplate",
    metadata: { name: args.name, namespace: args.namespace },
    spec: {
      ...(args.args?.length ? { args: args.args.map((a) => ({ name: a.name, ...(a.value !== undefined ? { value: a.value } : {}) })) } : {}),
      metrics: queries.map((q) => ({
        name: q.name,
        interval,
        count,
        failureLimit,
        ...(args.initialDelay ? { initialDelay: args.initialDelay } : {}),
        successCondition: condition,
        provider: { prometheus: { address, query: q.query } },
      })),
    },
  };
}
