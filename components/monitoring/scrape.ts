// How often Prometheus scrapes, in one place: the chart's global scrape interval (prometheus.ts)
// and the canary analysis timing (delivery/analysis.ts evidenceTiming, used by the sample app)
// both read it, so a rate window can never silently fall below a few scrapes again.

/** Every job: mesh sidecars (istio_requests_total via the merged :15020 endpoint), app, istiod, KSM. */
export const SCRAPE_INTERVAL = "15s";

/** Go-style duration with one unit, as both Prometheus and Argo Rollouts accept it, in seconds. */
export function durationSeconds(value: string, what = "duration"): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(value ?? "");
  if (!m) throw new Error(`${what}: "${value}" is not a duration like 15s, 1m or 1h`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "s" ? n : m[2] === "m" ? n * 60 : n * 3600;
}

/** Whole seconds back to the shortest one-unit duration: 60 -> "1m", 45 -> "45s". */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`formatDuration: ${seconds} is not a whole number of seconds >= 1`);
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The chart's default timeout (10s) unless the interval is shorter: Prometheus refuses timeout > interval. */
export function scrapeTimeout(interval: string = SCRAPE_INTERVAL): string {
  return formatDuration(Math.min(10, durationSeconds(interval, "scrape interval")));
}
