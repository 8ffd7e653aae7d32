import { describe, expect, it } from "vitest";
import { successCondition } from "../components/delivery/analysis";
import { evaluate, measurementPhase, Phase, runVerdict } from "./helpers/argo-verdict";

const guarded = successCondition(0.95); // "len(result) == 0 || result[0] >= 0.95"

describe("Argo Rollouts verdict rules (helper used by the promtool analysis test)", () => {
  it("evaluates the conditions the builders write, short-circuiting like expr", () => {
    expect(evaluate(guarded, [])).toBe(true);
    expect(evaluate(guarded, [0.96])).toBe(true);
    expect(evaluate(guarded, [0.9])).toBe(false);
    expect(evaluate(guarded, [0.95])).toBe(true);
    expect(evaluate("result[0] >= 0.95", [Number.NaN])).toBe(false);
    expect(evaluate("isNaN(result[0]) || result[0] < 0.5", [Number.NaN])).toBe(true);
    expect(evaluate("len(result) > 0 && result[0] <= -1e-3", [-0.5])).toBe(true);
    expect(evaluate("not (result < 2)", 3)).toBe(true);
    // expr fails at run time when indexing past the end, and at compile time on what it does not know.
    expect(() => evaluate("result[0] >= 0.95", [])).toThrow(/index out of range/);
    expect(() => evaluate("result[0] >= ", [1])).toThrow();
    expect(() => evaluate("sum(result) > 1", [1])).toThrow(/unknown/);
  });

  it("a measurement: success only -> Successful or Failed; both conditions -> Inconclusive when neither holds; errors", () => {
    expect(measurementPhase([], { successCondition: guarded })).toBe("Successful");
    expect(measurementPhase([0.99], { successCondition: guarded })).toBe("Successful");
    expect(measurementPhase([0.5], { successCondition: guarded })).toBe("Failed");
    expect(measurementPhase([], { successCondition: "result[0] >= 0.95" })).toBe("Error");
    expect(measurementPhase([0.5], { failureCondition: "result[0] < 0.9" })).toBe("Failed");
    expect(measurementPhase([0.92], { failureCondition: "result[0] < 0.9" })).toBe("Successful");
    const both = { successCondition: "result[0] >= 0.95", failureCondition: "result[0] < 0.9" };
    expect(measurementPhase([0.92], both)).toBe("Inconclusive");
    expect(measurementPhase([0.5], both)).toBe("Failed");
    expect(measurementPhase([1], both)).toBe("Successful");
    expect(measurementPhase([1], {})).toBe("Successful");
    expect(measurementPhase([1], { successCondition: "result[0]" })).toBe("Error");
  });

  it("a run fails once failed measurements exceed failureLimit, and stops there", () => {
    const rules = { successCondition: guarded, count: 5, failureLimit: 1 };
    const S: Phase = "Successful", F: Phase = "Failed", I: Phase = "Inconclusive", E: Phase = "Error";
    expect(runVerdict(rules, [S, S, S, S, S])).toEqual({ phase: "Successful", taken: 5, failed: 0 });
    expect(runVerdict(rules, [S, F, S, S, S])).toEqual({ phase: "Successful", taken: 5, failed: 1 });
    expect(runVerdict(rules, [F, F, S, S, S])).toEqual({ phase: "Failed", taken: 2, failed: 2 });
    expect(runVerdict(rules, [S, S])).toEqual({ phase: "Running", taken: 2, failed: 0 });
    // Argo's default failureLimit is 0: the first failure ends the run.
    expect(runVerdict({ count: 3 }, [F, S, S]).phase).toBe("Failed");
    expect(runVerdict({ count: 3, failureLimit: -1 }, [F, F, F]).phase).toBe("Successful");
    // Inconclusive beyond its limit (default 0) pauses; errors do not count toward count, 5 in a row end it.
    expect(runVerdict(rules, [S, I]).phase).toBe("Inconclusive");
    expect(runVerdict(rules, [E, E, E, E, S, S, S, S, S])).toEqual({ phase: "Successful", taken: 9, failed: 0 });
    expect(runVerdict(rules, [E, E, E, E, E]).phase).toBe("Error");
    expect(() => runVerdict({ count: 0 }, [])).toThrow(/count/);
  });
});
