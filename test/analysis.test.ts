import { describe, expect, it } from "vitest";
import { AnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";
import YAML from "yaml";
import { analysisTemplate, checkEvidence, evidenceTiming, MIN_WINDOW_SCRAPES, rangeSelectors, successCondition } from "../components/delivery/analysis";
import { renderSampleApp, successRateQuery } from "../components/apps/sample-app";
import { prometheusValues } from "../components/monitoring/prometheus";
import { durationSeconds, formatDuration, SCRAPE_INTERVAL, scrapeTimeout } from "../components/monitoring/scrape";
import { endpoints } from "../components/lib/endpoints";
import { conditionGuardsEmptyResult } from "../policy/checks";
import { testContext } from "./helpers/context";

const ep = endpoints({ environment: "dev", domain: "platform.localhost", nodeAddress: "k3d-platform-server-0" });
const base = {
  name: "success-rate", namespace: "sample", endpoints: ep, threshold: 0.95,
  args: [{ name: "service" }],
  query: `sum(rate(istio_requests_total{destination_service_name="{{args.service}}",response_code!~"5.."}[1m])) / sum(rate(istio_requests_total{destination_service_name="{{args.service}}"}[1m]))`,
};

describe("analysisTemplate builder", () => {
  it("PM-25 interval always comes with count, and failureLimit is set", () => {
    const t = analysisTemplate({ ...base, interval: "1m", count: 3 });
    const m = t.spec.metrics[0];
    expect(m).toMatchObject({ interval: "1m", count: 3, failureLimit: 1 });
    const d = analysisTemplate(base).spec.metrics[0];
    expect(d.interval).toBeDefined();
    expect(d.count).toBeGreaterThanOrEqual(1);
    expect(d.failureLimit).toBeDefined();
    expect(() => new AnalysisTemplate(t as any).validate()).not.toThrow();
  });

  it("PM-25 interval without count is refused", () => {
    expect(() => analysisTemplate({ ...base, interval: "1m" })).toThrow(/interval without count.*PM-25/);
    expect(() => analysisTemplate({ ...base, interval: "1m", count: 0 })).toThrow(/count must be an integer >= 1/);
    expect(() => analysisTemplate({ ...base, interval: "1m", count: 2.5 })).toThrow(/count must be an integer >= 1/);
  });

  it("PM-26 an empty Prometheus result is not a failure", () => {
    const m = analysisTemplate(base).spec.metrics[0];
    expect(m.successCondition).toBe("len(result) == 0 || result[0] >= 0.95");
    expect(successCondition(500, "<=")).toBe("len(result) == 0 || result[0] <= 500");
    // The policy pack's PM-26 check agrees.
    expect(conditionGuardsEmptyResult(m.successCondition)).toBe(true);
  });

  it("the Prometheus address comes from the endpoints object", () => {
    const m = analysisTemplate(base).spec.metrics[0];
    expect(m.provider.prometheus.address).toBe(ep.prometheus.internalUrl);
    expect(m.provider.prometheus.address).toBe("http://prometheus-server.monitoring.svc.cluster.local:80");
    expect(analysisTemplate(base).spec.args).toEqual([{ name: "service" }]);
  });

  it("refuses invalid input", () => {
    expect(() => analysisTemplate({ ...base, threshold: Number.NaN })).toThrow(/finite number/);
    expect(() => analysisTemplate({ ...base, threshold: Infinity })).toThrow(/finite number/);
    expect(() => analysisTemplate({ ...base, threshold: "0.9" as any })).toThrow(/finite number/);
    expect(() => analysisTemplate({ ...base, comparison: ">" as any })).toThrow(/>= or <=/);
    expect(() => analysisTemplate({ ...base, interval: "often", count: 3 })).toThrow(/not a duration/);
    expect(() => analysisTemplate({ ...base, failureLimit: -1 })).toThrow(/failureLimit/);
    expect(() => analysisTemplate({ ...base, count: 2, failureLimit: 2 })).toThrow(/failureLimit/);
    expect(() => analysisTemplate({ ...base, query: " " })).toThrow(/query is required/);
    expect(() => analysisTemplate({ ...base, args: [] })).toThrow(/\{\{args.service\}\} but args does not declare it/);
    expect(() => analysisTemplate({ ...base, endpoints: { prometheus: {} } as any })).toThrow(/internalUrl/);
    expect(() => analysisTemplate({ ...base, name: "Success" })).toThrow(/DNS-1123/);
    expect(() => analysisTemplate({ ...base, initialDelay: "later" })).toThrow(/not a duration/);
  });
});

describe("analysis timing judges evidence (scrape interval -> window, interval, initialDelay)", () => {
  const timed = { ...base, args: [{ name: "service" }], count: 5, failureLimit: 1 };
  const q = (w: string) => base.query.replace(/\[1m\]/g, `[${w}]`);

  it("15s scrapes: 1m window (4 scrapes), a measurement every 45s, the first after 1m", () => {
    expect(SCRAPE_INTERVAL).toBe("15s");
    expect(evidenceTiming("15s")).toEqual({ scrapeInterval: "15s", rateWindow: "1m", interval: "45s", initialDelay: "1m" });
    expect(evidenceTiming("30s")).toEqual({ scrapeInterval: "30s", rateWindow: "2m", interval: "90s", initialDelay: "2m" });
    expect(evidenceTiming("15s", "2m")).toMatchObject({ rateWindow: "2m", interval: "105s", initialDelay: "2m" });
    expect(durationSeconds("1h")).toBe(3600);
    expect(formatDuration(90)).toBe("90s");
    expect(scrapeTimeout("15s")).toBe("10s");
    expect(scrapeTimeout("5s")).toBe("5s");
  });

  it("a window below 4 scrape intervals is refused, wherever it is set", () => {
    expect(MIN_WINDOW_SCRAPES).toBeGreaterThanOrEqual(4);
    expect(() => evidenceTiming("15s", "45s")).toThrow(/below 4 scrape intervals/);
    expect(() => evidenceTiming("1m", "2m")).toThrow(/below 4 scrape intervals/);
    expect(() => evidenceTiming("15s", undefined, 2)).toThrow(/windowScrapes/);
    const evidence = { scrapeInterval: "15s", rateWindow: "45s" };
    expect(() => analysisTemplate({ ...timed, query: q("45s"), interval: "45s", initialDelay: "1m", evidence })).toThrow(/below 4 scrape intervals/);
  });

  it("neighbouring measurements may share one boundary sample, not an increment; the first waits a full window", () => {
    const ok = evidenceTiming("15s");
    expect(() => checkEvidence({ ...ok, interval: "30s" }, "t")).toThrow(/judge the same samples/);
    expect(() => checkEvidence({ ...ok, interval: "1m" }, "t")).not.toThrow();
    expect(() => checkEvidence({ ...ok, initialDelay: "30s" }, "t")).toThrow(/no evidence and pass/);
    const evidence = { scrapeInterval: "15s", rateWindow: "1m" };
    const t = analysisTemplate({ ...timed, interval: "45s", initialDelay: "1m", evidence });
    expect(t.spec.metrics[0]).toMatchObject({ interval: "45s", initialDelay: "1m", count: 5, failureLimit: 1 });
    // No initialDelay at all, a query whose range is not the window, a subquery: refused.
    expect(() => analysisTemplate({ ...timed, interval: "45s", evidence })).toThrow(/initialDelay/);
    expect(() => analysisTemplate({ ...timed, query: q("2m"), interval: "45s", initialDelay: "1m", evidence })).toThrow(/query range \[2m\] is not the rate window 1m/);
    expect(() => analysisTemplate({ ...timed, query: "sum(x) / 2", interval: "45s", initialDelay: "1m", evidence })).toThrow(/no range selector/);
    expect(() => rangeSelectors("max_over_time(rate(x[1m])[5m:15s])")).toThrow(/subquery/);
    expect(rangeSelectors(successRateQuery("ns", "1m"))).toEqual(["1m", "1m", "1m"]);
  });

  it("the rendered canary analysis against the Prometheus values: window >= 4 scrapes, fresh samples, a full first window", () => {
    // What Argo CD applies and what the chart scrapes with: if either drifts, this fails.
    for (const env of ["dev", "oci", "homelab"] as const) {
      const ctx = testContext(env);
      const scrape = durationSeconds((prometheusValues({ ctx }) as any).server.global.scrape_interval);
      const files = renderSampleApp(ctx);
      const template = Object.values(files).map((f) => YAML.parse(f)).find((d) => d.kind === "AnalysisTemplate");
      const m = template.spec.metrics[0];
      const windows = rangeSelectors(m.provider.prometheus.query).map((w) => durationSeconds(w));
      expect(windows.length).toBeGreaterThan(0);
      for (const w of windows) {
        expect(w).toBeGreaterThanOrEqual(4 * scrape);
        expect(durationSeconds(m.interval)).toBeGreaterThanOrEqual(w - scrape);
        expect(durationSeconds(m.initialDelay)).toBeGreaterThanOrEqual(w);
      }
      expect(durationSeconds(m.interval)).toBeGreaterThanOrEqual(scrape);
      expect(m.failureLimit).toBeLessThan(m.count);
      expect(conditionGuardsEmptyResult(m.successCondition)).toBe(true); // PM-26 kept
    }
  });
});
