import { describe, expect, it } from "vitest";
import { Rollout } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout";
import { blueGreenRollout, canaryRollout, canarySteps, rollout, RolloutArgs } from "../components/delivery/rollout";
import { container } from "../components/lib/k8s";
import { SIZES } from "../components/lib/sizes";

const api = container({
  name: "api", image: "registry.platform.internal:5000/sample-api:1.0.0", resources: SIZES.standard.sampleApi,
  ports: [{ name: "http", containerPort: 8000 }, { name: "metrics", containerPort: 9100 }],
  readiness: { http: { path: "/health/ready", port: "http" } },
});
const base = { name: "api", namespace: "sample", selector: { app: "api" }, podSpec: { containers: [api] } };
const canary = {
  stableService: "api-stable", canaryService: "api-canary", steps: canarySteps([20, 80, 100], "success-rate"),
  trafficRouting: { istio: { virtualService: { name: "api", routes: ["primary"] }, destinationRule: { name: "api", canarySubsetName: "canary", stableSubsetName: "stable" } } },
};

describe("rollout builder", () => {
  it("PM-17 a canary Rollout carries its strategy and validates against the upstream schema", () => {
    const r = rollout({ ...base, strategy: { canary } });
    expect(r.apiVersion).toBe("argoproj.io/v1alpha1");
    expect(r.kind).toBe("Rollout");
    expect(r.spec.strategy.canary.stableService).toBe("api-stable");
    expect(r.spec.strategy.canary.trafficRouting.istio.virtualService).toEqual({ name: "api", routes: ["primary"] });
    expect(r.spec.strategy.canary.trafficRouting.istio.destinationRule).toEqual({ name: "api", canarySubsetName: "canary", stableSubsetName: "stable" });
    expect(r.spec.template.metadata.labels).toEqual({ app: "api" });
    expect(() => new Rollout(r as any).validate()).not.toThrow();
  });

  it("PM-17 a Rollout without a strategy cannot be typed and is refused at runtime", () => {
    // @ts-expect-error strategy is required by the type
    const untyped: RolloutArgs = { ...base };
    expect(() => rollout(untyped)).toThrow(/missing required field "strategy".*PM-17/);
    expect(() => rollout({ ...base, strategy: {} as any })).toThrow(/PM-17/);
    // @ts-expect-error canary and blueGreen together are not a RolloutStrategy
    const both: RolloutArgs = { ...base, strategy: { canary, blueGreen: { activeService: "a", previewService: "b" } } };
    expect(() => rollout(both)).toThrow(/not both/);
  });

  it("PM-17 blue-green comes with its active and preview Services, targeting ports by name (PM-06)", () => {
    const { rollout: r, activeService, previewService } = blueGreenRollout({ ...base, servicePortNames: ["http"], servicePorts: { http: 80 } });
    expect(r.spec.strategy.blueGreen).toMatchObject({ activeService: "api-active", previewService: "api-preview", autoPromotionEnabled: false });
    for (const [svc, name] of [[activeService, "api-active"], [previewService, "api-preview"]] as const) {
      expect(svc.metadata).toMatchObject({ name, namespace: "sample" });
      expect(svc.spec.selector).toEqual({ app: "api" });
      expect(svc.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    }
    expect(() => new Rollout(r as any).validate()).not.toThrow();
    expect(() => blueGreenRollout({ ...base, servicePortNames: ["web"] })).toThrow(/no container port named "web"/);
  });

  it("canaryRollout returns the stable and canary Services it names", () => {
    const { rollout: r, stableService, canaryService } = canaryRollout({ ...base, canary: { steps: canarySteps([50, 100], "success-rate") }, servicePortNames: ["http"] });
    expect(r.spec.strategy.canary).toMatchObject({ stableService: "api-stable", canaryService: "api-canary" });
    expect(stableService.metadata.name).toBe("api-stable");
    expect(canaryService.spec.ports[0].targetPort).toBe("http");
    expect(() => canaryRollout({ ...base, canary: { steps: [] } })).toThrow(/at least one step/);
    expect(() => canaryRollout({ ...base, canary: { steps: canarySteps([100], "t"), canaryService: "api-stable" } })).toThrow(/must differ/);
  });

  it("canarySteps: weight, analysis, weight, analysis, 100", () => {
    expect(canarySteps([20, 80, 100], "success-rate", { args: [{ name: "service", value: "api" }] })).toEqual([
      { setWeight: 20 },
      { analysis: { templates: [{ templateName: "success-rate" }], args: [{ name: "service", value: "api" }] } },
      { setWeight: 80 },
      { analysis: { templates: [{ templateName: "success-rate" }], args: [{ name: "service", value: "api" }] } },
      { setWeight: 100 },
    ]);
    expect(canarySteps([50, 100], "t", { pause: "30s" })).toEqual([
      { setWeight: 50 }, { pause: { duration: "30s" } }, { analysis: { templates: [{ templateName: "t" }] } }, { setWeight: 100 },
    ]);
  });

  it("canarySteps refuses invalid input", () => {
    expect(() => canarySteps([], "t")).toThrow(/at least one weight/);
    expect(() => canarySteps([20, 80], "t")).toThrow(/last weight must be 100/);
    expect(() => canarySteps([80, 20, 100], "t")).toThrow(/must increase/);
    expect(() => canarySteps([0, 100], "t")).toThrow(/1\.\.100/);
    expect(() => canarySteps([20.5, 100], "t")).toThrow(/1\.\.100/);
    expect(() => canarySteps([20, 100], "")).toThrow(/templateName is required/);
    expect(() => canarySteps([20, 100], "t", { pause: "soon" })).toThrow(/not a duration/);
  });

  it("rollout refuses invalid input", () => {
    const c = (over: object) => ({ ...base, strategy: { canary: { ...canary, ...over } } });
    expect(() => rollout(c({ steps: [] }))).toThrow(/at least one step/);
    expect(() => rollout(c({ steps: [{ setWeight: 120 }] }))).toThrow(/0\.\.100/);
    expect(() => rollout(c({ steps: [{ setWeight: 10, pause: {} }] }))).toThrow(/exactly one/);
    expect(() => rollout(c({ steps: [{ pause: { duration: "10 minutes" } }] }))).toThrow(/not a duration/);
    expect(() => rollout(c({ steps: [{ analysis: { templates: [] } }] }))).toThrow(/at least one template/);
    expect(() => rollout(c({ canaryService: "api-stable" }))).toThrow(/must differ/);
    expect(() => rollout(c({ trafficRouting: { istio: { virtualService: { name: "api", routes: [] } } } }))).toThrow(/routes/);
    expect(() => rollout(c({ trafficRouting: { istio: { virtualService: { name: "api", routes: ["r"] }, destinationRule: { name: "api", canarySubsetName: "x", stableSubsetName: "x" } } } }))).toThrow(/distinct/);
    expect(() => rollout({ ...base, replicas: 0, strategy: { canary } })).toThrow(/replicas/);
    expect(() => rollout({ ...base, selector: {}, strategy: { canary } })).toThrow(/selector/);
    expect(() => rollout({ ...base, podLabels: { app: "other" }, strategy: { canary } })).toThrow(/pod label app/);
    expect(() => rollout({ ...base, podSpec: { containers: [] }, strategy: { canary } })).toThrow(/container/);
    expect(() => rollout({ ...base, name: "Bad_Name", strategy: { canary } })).toThrow(/DNS-1123/);
    expect(() => rollout({ ...base, strategy: { blueGreen: { activeService: "a", previewService: "a" } } })).toThrow(/must differ/);
    expect(() => rollout({ ...base, strategy: { blueGreen: { activeService: "a", previewService: "b", scaleDownDelaySeconds: -1 } } })).toThrow(/scaleDownDelaySeconds/);
  });
});
