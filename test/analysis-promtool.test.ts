// The canary analysis judged with Prometheus' own engine: the exact query of the rendered
// AnalysisTemplate (canary hash substituted as Argo Rollouts does), over istio_requests_total as the
// sidecars expose it, scraped at the interval the Prometheus values set, evaluated at the times the
// AnalysisRun measures (initialDelay + k x interval), judged by Argo's rules (helpers/argo-verdict).
// Traffic starts at a few phases against the scrape grid, never on a scrape: Prometheus 3 (the
// server) has left-open range selectors and promtool 2.42 (Debian) closed ones, which only differ
// for a sample exactly at the window's start.
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { API_NAME, renderSampleApp, SAMPLE_APP_NAMESPACE, successRateQuery } from "../components/apps/sample-app";
import { analysisTemplate } from "../components/delivery/analysis";
import { prometheusValues } from "../components/monitoring/prometheus";
import { durationSeconds } from "../components/monitoring/scrape";
import { K8sObject } from "../components/lib/k8s";
import { measurementPhase, MetricRules, Phase, runVerdict } from "./helpers/argo-verdict";
import { testContext } from "./helpers/context";
import { needs } from "./helpers/binaries";
import { promtoolEval, Series } from "./helpers/promtool";

const ctx = testContext("oci", { domain: "example.com", nodeAddress: "10.0.1.10" });
const CANARY = "7d9f8b6c5";
const STABLE = "5c4b3a291";
const promtool = needs("promtool");

/** What Argo CD applies: the AnalysisTemplate file of the rendered Git tree. */
function renderedTemplate(): K8sObject {
  const docs = Object.values(renderSampleApp(ctx)).map((text) => YAML.parse(text) as K8sObject);
  const found = docs.filter((d) => d.kind === "AnalysisTemplate");
  expect(found).toHaveLength(1);
  return found[0];
}

interface Setting {
  readonly name: string;
  readonly scrape: number;
  readonly metric: any;
}

/** Argo's template substitution of {{args.canary-hash}} (podTemplateHashValue: Latest). */
function queryOf(metric: any): string {
  const q = String(metric.provider.prometheus.query).replace(/\{\{\s*args\.canary-hash\s*\}\}/g, CANARY);
  expect(q).not.toContain("{{");
  return q;
}

function rulesOf(metric: any): MetricRules {
  return { successCondition: metric.successCondition, failureCondition: metric.failureCondition, count: metric.count, failureLimit: metric.failureLimit };
}

/** Seconds after the run starts at which measurement k is taken: initialDelay + k x interval. */
function measurementTimes(metric: any): number[] {
  const delay = metric.initialDelay ? durationSeconds(metric.initialDelay) : 0;
  return Array.from({ length: metric.count }, (_, k) => delay + k * durationSeconds(metric.interval));
}

const current = (): Setting => {
  const metric = renderedTemplate().spec.metrics[0];
  const scrape = durationSeconds((prometheusValues({ ctx }) as any).server.global.scrape_interval);
  return { name: "current", scrape, metric };
};

/** main before this change: chart default 1m scrape, 2m window, 30s x 5 after 30s. */
const previous = (): Setting => ({
  name: "previous",
  scrape: 60,
  metric: analysisTemplate({
    name: "sample-api-success-rate", namespace: SAMPLE_APP_NAMESPACE, endpoints: ctx.endpoints, threshold: 0.95,
    query: successRateQuery(SAMPLE_APP_NAMESPACE, "2m"), args: [{ name: "canary-hash" }],
    interval: "30s", count: 5, failureLimit: 1, initialDelay: "30s",
  }).spec.metrics[0],
});

/** A counter of one Envoy label set; `rate(t)` requests/s, t in seconds since traffic started. */
interface Flow {
  readonly pod: "canary" | "stable";
  /** "gateway": the gateway's Envoy records it (reporter="source") for the pod's Service. */
  readonly via?: "gateway";
  readonly reporter?: "destination" | "source";
  readonly code: string;
  readonly flags?: string;
  readonly rate: (t: number) => number;
}

type Scenario = readonly Flow[];
const steady = (rps: number) => () => rps;

// Decoys the query must ignore: stable pods (other hash, some errors) and the canary pod's own
// outbound calls (reporter="source"), which would mask a broken canary if counted.
const decoys: Flow[] = [
  { pod: "stable", code: "200", rate: steady(16) },
  { pod: "stable", code: "503", flags: "UF", rate: steady(2) },
  { pod: "canary", reporter: "source", code: "200", rate: steady(4) },
];
const SCENARIOS: Record<string, Scenario> = {
  healthy: [...decoys, { pod: "canary", code: "200", rate: steady(4) }, { pod: "canary", code: "404", rate: steady(0.1) }],
  "10% errors": [...decoys, { pod: "canary", code: "200", rate: steady(3.6) }, { pod: "canary", code: "500", rate: steady(0.4) }],
  // The app is down, the sidecar still answers: connection failures as Envoy reports them.
  down: [...decoys, { pod: "canary", code: "503", flags: "UF", rate: steady(3.5) }, { pod: "canary", code: "503", flags: "URX", rate: steady(0.5) }],
  // PM-26: nothing at all; the stable pods' counters exist from earlier traffic but stand still.
  "no traffic": [{ pod: "stable", code: "200", rate: steady(0) }],
};

/** Counters sampled every `scrape` s; traffic starts at `start`. A series exists once its counter is non-zero. */
function series(flows: Scenario, scrape: number, start: number, samples: number): Series[] {
  return flows.map((f) => {
    const hash = f.pod === "canary" ? CANARY : STABLE;
    const labels: Record<string, string> = f.via === "gateway" ? {
      __name__: "istio_requests_total", reporter: "source", namespace: "istio-system", app: "istio-ingressgateway",
      pod: "istio-ingressgateway-6f7d9-abcde", source_workload: "istio-ingressgateway", destination_service_namespace: SAMPLE_APP_NAMESPACE,
      destination_service_name: `${API_NAME}-${f.pod}`, destination_workload: f.flags === "UH" ? "unknown" : API_NAME,
      response_code: f.code, response_flags: f.flags ?? "-",
    } : {
      __name__: "istio_requests_total", reporter: f.reporter ?? "destination", namespace: SAMPLE_APP_NAMESPACE,
      app_kubernetes_io_name: API_NAME, rollouts_pod_template_hash: hash, pod: `${API_NAME}-${hash}-x2k9p`,
      destination_workload: API_NAME, response_code: f.code, response_flags: f.flags ?? "-",
    };
    // Stable counters carry earlier traffic; the canary's start at its first request.
    const base = f.pod === "stable" ? 5000 : 0;
    const values = Array.from({ length: samples }, (_, i) => {
      let n = base;
      for (let s = start; s < i * scrape; s++) n += f.rate(s - start);
      const v = Math.floor(n);
      return v === 0 ? undefined : v;
    });
    return { labels, values };
  });
}

interface Judgement {
  readonly results: number[][];
  readonly phases: Phase[];
  readonly verdict: ReturnType<typeof runVerdict>;
  /** Measurements with an empty result (passed by PM-26's guard). */
  readonly empty: number;
}

async function judge(setting: Setting, flows: Scenario, phase: number): Promise<Judgement> {
  const { scrape, metric } = setting;
  const start = 2 * scrape + phase; // a few scrapes of history, then setWeight and the AnalysisRun
  const times = measurementTimes(metric).map((t) => start + t);
  const samples = Math.ceil((times[times.length - 1] + scrape) / scrape) + 1;
  const got = await promtoolEval({ interval: scrape, series: series(flows, scrape, start, samples), expr: queryOf(metric), times });
  const results = got.map((r) => r.map((s) => s.value));
  const rules = rulesOf(metric);
  const phases = results.map((r) => measurementPhase(r, rules));
  return { results, phases, verdict: runVerdict(rules, phases), empty: results.filter((r) => r.length === 0).length };
}

/** Traffic start against the scrape grid: just after a scrape, mid-way, just before the next. */
const phasesOf = (scrape: number) => [1, Math.round(scrape / 2) - 1, scrape - 1];

describe("canary analysis under Prometheus' engine (promtool test rules)", () => {
  promtool.describe("with promtool", () => {
    it("reads the rendered template: 15s scrapes, a 1m window, a measurement every 45s after 1m", () => {
      const { scrape, metric } = current();
      expect(scrape).toBe(15);
      expect(queryOf(metric)).toContain(`rollouts_pod_template_hash="${CANARY}"`);
      expect(queryOf(metric)).toContain("[1m]");
      expect(measurementTimes(metric)).toEqual([60, 105, 150, 195, 240]);
    });

    it.each([
      ["healthy", "Successful"],
      ["10% errors", "Failed"],
      ["down", "Failed"],
    ])("%s canary -> %s, every measurement on evidence", async (scenario, expected) => {
      const runs = await Promise.all(phasesOf(current().scrape).map(async (phase) => ({ phase, j: await judge(current(), SCENARIOS[scenario], phase) })));
      for (const { phase, j } of runs) {
        const where = `${scenario}, traffic ${phase}s after a scrape: ${JSON.stringify(j.results)} -> ${j.phases.join(",")}`;
        expect(j.verdict.phase, where).toBe(expected);
        // With traffic, no measurement is judged on an empty result.
        expect(j.results.slice(0, j.verdict.taken).every((r) => r.length === 1), where).toBe(true);
      }
    });

    it("PM-26 no traffic at all does not fail the canary (every result empty, the guard passes it)", async () => {
      for (const j of await Promise.all(phasesOf(current().scrape).map((phase) => judge(current(), SCENARIOS["no traffic"], phase)))) {
        expect(j.empty).toBe(current().metric.count);
        expect(j.verdict.phase).not.toBe("Failed");
        expect(j.verdict.phase).toBe("Successful");
      }
    });

    it("old settings (1m scrape, 2m window, 30s x 5 after 30s) would pass without evidence", async () => {
      const old = await Promise.all(phasesOf(60).map((phase) => judge(previous(), SCENARIOS.healthy, phase)));
      for (const j of old) {
        // Traffic flows from the start, yet the first measurements see nothing and pass.
        expect(j.empty).toBeGreaterThanOrEqual(2);
        expect(j.results.slice(0, j.empty)).toEqual(Array(j.empty).fill([]));
        expect(j.phases.slice(0, j.empty)).toEqual(Array(j.empty).fill("Successful"));
      }
      // Worse: with 2 samples per window a new series' first sample is lost, so when the 500 counter
      // appears a scrape after the 200 one, a 10% errors canary passes (traffic 59s after a scrape).
      const errors = await Promise.all(phasesOf(60).map((phase) => judge(previous(), SCENARIOS["10% errors"], phase)));
      expect(errors.map((j) => j.verdict.phase)).toContain("Successful");
      // The current settings on the same traffic: every measurement on evidence (and the verdicts above).
      const now = await Promise.all(phasesOf(15).map((phase) => judge(current(), SCENARIOS.healthy, phase)));
      expect(now.map((j) => j.empty)).toEqual([0, 0, 0]);
    });

    it("neighbouring measurements judge different samples: one 10s burst of errors fails one measurement (old settings: two, and the run)", async () => {
      // 70-80 s into the run: inside the current second window (45, 105], whatever the phase. One
      // error in the first second creates the 500 counter: rate() cannot see a series' first sample,
      // so errors of a code never seen before and over within one scrape would be invisible to both.
      const burst = (t: number) => (t >= 70 && t < 80 ? 1 : 0);
      const blip: Scenario = [...decoys,
        { pod: "canary", code: "200", rate: (t) => 4 * (1 - burst(t)) },
        { pod: "canary", code: "500", rate: (t) => (t < 1 ? 1 : 0) + 4 * burst(t) }];
      for (const j of await Promise.all(phasesOf(15).map((phase) => judge(current(), blip, phase)))) {
        expect(j.phases, JSON.stringify(j.results)).toEqual(["Successful", "Failed", "Successful", "Successful", "Successful"]);
        expect(j.verdict.phase).toBe("Successful"); // failureLimit 1 tolerates one bad window
      }
      // 1m scrapes: the burst sits in one increment, which two consecutive 30s measurements judge
      // (from the same two samples) unless the second falls after the last measurement.
      const old = await Promise.all(phasesOf(60).map((phase) => judge(previous(), blip, phase)));
      const twice = old.filter((j) => j.verdict.failed === 2);
      expect(twice.length, JSON.stringify(old.map((j) => j.results))).toBeGreaterThanOrEqual(1);
      for (const j of twice) {
        expect(j.verdict.phase).toBe("Failed");
        // Consecutive: the same increment (extrapolated differently, so not the same number).
        const failed = j.phases.map((p, i) => (p === "Failed" ? i : -1)).filter((i) => i >= 0);
        expect(failed[1] - failed[0]).toBe(1);
      }
    });
  });
});

describe("a canary that goes unready mid-analysis (promtool)", () => {
  // The pod fails readiness 20 s into the step and leaves the canary Service's endpoints: no request
  // reaches it any more, so its own series stand still and the canary-side query goes empty (PM-26's
  // guard passes it). The gateway keeps routing the canary's 20 % to the Service and answers 503 UH.
  const rendered = () => renderedTemplate().spec.metrics as any[];
  const asSetting = (metric: any): Setting => ({ name: metric.name, scrape: current().scrape, metric });
  const upUntil = (t: number) => (s: number) => (s < t ? 4 : 0);
  const unready: Scenario = [...decoys,
    { pod: "canary", code: "200", rate: upUntil(20) },
    { pod: "canary", via: "gateway", code: "200", rate: upUntil(20) },
    { pod: "canary", via: "gateway", code: "503", flags: "UH", rate: (s) => (s < 20 ? 0 : 4) },
    { pod: "stable", via: "gateway", code: "200", rate: steady(16) }];
  const healthy: Scenario = [...SCENARIOS.healthy,
    { pod: "canary", via: "gateway", code: "200", rate: steady(4) },
    { pod: "stable", via: "gateway", code: "200", rate: steady(16) },
    // The stable Service's own errors must not count against the canary.
    { pod: "stable", via: "gateway", code: "503", flags: "UF", rate: steady(2) }];

  promtool.describe("with promtool", () => {
    it("the template judges both sides: the canary pods' view and the callers' view of the canary Service", () => {
      expect(rendered().map((m) => m.name)).toEqual(["success-rate", "caller-success-rate"]);
      expect(rendered()[1].provider.prometheus.query).toContain(`destination_service_name="${API_NAME}-canary"`);
      for (const m of rendered()) expect(m).toMatchObject({ interval: rendered()[0].interval, count: 5, failureLimit: 1, initialDelay: rendered()[0].initialDelay });
    });

    it("the canary pods' view alone would pass it; the callers' view fails it, and with it the run", async () => {
      const [own, callers] = rendered().map(asSetting);
      for (const phase of phasesOf(15)) {
        const mine = await judge(own, unready, phase);
        const theirs = await judge(callers, unready, phase);
        // The hole: every measurement empty after the pod left, so the canary-side metric succeeds.
        expect(mine.verdict.phase, JSON.stringify(mine.results)).toBe("Successful");
        expect(theirs.verdict.phase, JSON.stringify(theirs.results)).toBe("Failed");
      }
    });

    it("a healthy canary passes both; with no traffic both stay empty and pass (PM-26)", async () => {
      const [own, callers] = rendered().map(asSetting);
      for (const phase of phasesOf(15)) {
        expect((await judge(callers, healthy, phase)).verdict.phase).toBe("Successful");
        expect((await judge(own, healthy, phase)).verdict.phase).toBe("Successful");
        const idle = await judge(callers, SCENARIOS["no traffic"], phase);
        expect(idle.empty).toBe(callers.metric.count);
        expect(idle.verdict.phase).toBe("Successful");
      }
    });
  });
});
