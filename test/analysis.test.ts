import { describe, expect, it } from "vitest";
import { AnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";
import { analysisTemplate, successCondition } from "../components/delivery/analysis";
import { endpoints } from "../components/lib/endpoints";
import { conditionGuardsEmptyResult } from "../policy/checks";

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
