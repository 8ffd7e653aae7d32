// Argo Rollouts' verdict rules, for judging real query results in tests. Transcribed from
// argoproj/argo-rollouts v1.9.0 (the controller pinned in versions.ts):
//  - utils/evaluate/evaluate.go EvaluateResult: success and failure conditions -> one measurement;
//  - analysis/analysis.go runMeasurements (counters) and assessMetricFailureInconclusiveOrError /
//    assessMetricStatus (run phase after each measurement; the run stops at the first terminal one);
//  - metricproviders/prometheus processResponse: a vector becomes `result` as a list of its values.
// Conditions are evaluated by a small interpreter for the part of expr-lang the builders write.

export type Phase = "Successful" | "Failed" | "Inconclusive" | "Error";
/** A Prometheus instant vector's values (what the provider hands the conditions), or a scalar. */
export type Result = readonly number[] | number;

export interface MetricRules {
  readonly successCondition?: string;
  readonly failureCondition?: string;
  readonly count: number;
  /** @default 0 (Argo's default); negative: not applicable */
  readonly failureLimit?: number;
  /** @default 0 */
  readonly inconclusiveLimit?: number;
  /** @default 4 (defaults.DefaultConsecutiveErrorLimit) */
  readonly consecutiveErrorLimit?: number;
}

/** EvaluateResult: without a failure condition, "not successful" is a failure, and vice versa. */
export function measurementPhase(result: Result, metric: Pick<MetricRules, "successCondition" | "failureCondition">): Phase {
  let success = false;
  let failure = false;
  try {
    if (metric.successCondition) success = truthy(evaluate(metric.successCondition, result), metric.successCondition);
    if (metric.failureCondition) failure = truthy(evaluate(metric.failureCondition, result), metric.failureCondition);
  } catch {
    return "Error";
  }
  if (!metric.successCondition && !metric.failureCondition) return "Successful";
  if (metric.successCondition && !metric.failureCondition) failure = !success;
  if (!metric.successCondition && metric.failureCondition) success = !failure;
  if (failure) return "Failed";
  if (!success) return "Inconclusive";
  return "Successful";
}

export interface RunVerdict {
  readonly phase: Phase | "Running";
  /** Measurements taken before the run ended (an Error does not count toward `count`). */
  readonly taken: number;
  readonly failed: number;
}

/** The run's phase after feeding it these measurements in order; stops at the first terminal phase. */
export function runVerdict(metric: MetricRules, phases: readonly Phase[]): RunVerdict {
  if (!Number.isInteger(metric.count) || metric.count < 1) throw new Error(`runVerdict: count must be >= 1, got ${metric.count}`);
  const failureLimit = metric.failureLimit ?? 0;
  const inconclusiveLimit = metric.inconclusiveLimit ?? 0;
  const errorLimit = metric.consecutiveErrorLimit ?? 4;
  let count = 0, failed = 0, inconclusive = 0, consecutiveError = 0, taken = 0;
  for (const p of phases) {
    taken++;
    if (p === "Error") consecutiveError++;
    else {
      count++;
      consecutiveError = 0;
      if (p === "Failed") failed++;
      if (p === "Inconclusive") inconclusive++;
    }
    // Same order as assessMetricFailureInconclusiveOrError: a later check overrides an earlier one.
    let phase: Phase | undefined;
    if (failureLimit >= 0 && failed > failureLimit) phase = "Failed";
    if (inconclusive > inconclusiveLimit) phase = "Inconclusive";
    if (consecutiveError > errorLimit) phase = "Error";
    if (phase) return { phase, taken, failed };
    if (count >= metric.count) return { phase: "Successful", taken, failed };
  }
  return { phase: "Running", taken, failed };
}

// ---- a small expr-lang interpreter: numbers, true/false, result, result[i], len(), isNaN(), isInf(),
// unary - and !/not, comparisons, &&/and, ||/or (short-circuit), parentheses. Anything else throws,
// as expr would fail to compile; indexing past the end throws, as expr does at run time.
type Value = number | boolean | readonly number[];
const TOKEN = /\s*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|==|!=|<=|>=|&&|\|\||[<>()[\]!,-])/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    if (/^\s*$/.test(src.slice(TOKEN.lastIndex))) break;
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m) throw new Error(`condition: unexpected "${src.slice(start)}"`);
    out.push(m[1]);
  }
  return out;
}

export function evaluate(condition: string, result: Result): Value {
  const tokens = tokenize(condition);
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw new Error(`condition: expected ${want ?? "a token"} at ${i - 1}, got ${t}`);
    return t;
  };
  // Each parse function returns a thunk, so || and && can skip their right side.
  type Thunk = () => Value;
  const num = (v: Value, what: string): number => {
    if (typeof v !== "number") throw new Error(`condition: ${what} needs a number`);
    return v;
  };
  const or = (): Thunk => {
    let left = and();
    while (peek() === "||" || peek() === "or") {
      take();
      const l = left, r = and();
      left = () => truthy(l(), "||") || truthy(r(), "||");
    }
    return left;
  };
  const and = (): Thunk => {
    let left = not();
    while (peek() === "&&" || peek() === "and") {
      take();
      const l = left, r = not();
      left = () => truthy(l(), "&&") && truthy(r(), "&&");
    }
    return left;
  };
  const not = (): Thunk => {
    if (peek() === "!" || peek() === "not") {
      take();
      const x = not();
      return () => !truthy(x(), "!");
    }
    return cmp();
  };
  const cmp = (): Thunk => {
    const left = unary();
    const op = peek();
    if (!["==", "!=", "<", "<=", ">", ">="].includes(op)) return left;
    take();
    const right = unary();
    return () => {
      const a = left(), b = right();
      if (op === "==") return a === b;
      if (op === "!=") return a !== b;
      const x = num(a, op), y = num(b, op);
      return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
    };
  };
  const unary = (): Thunk => {
    if (peek() === "-") {
      take();
      const x = unary();
      return () => -num(x(), "-");
    }
    return postfix();
  };
  const postfix = (): Thunk => {
    let base = primary();
    while (peek() === "[") {
      take("[");
      const idx = or();
      take("]");
      const b = base;
      base = () => {
        const arr = b(), k = num(idx(), "index");
        if (!Array.isArray(arr)) throw new Error("condition: indexing a non-list");
        if (!Number.isInteger(k) || k < 0 || k >= arr.length) throw new Error(`condition: index out of range: ${k} (len ${arr.length})`);
        return arr[k];
      };
    }
    return base;
  };
  const FUNCS: Record<string, (v: Value) => Value> = {
    len: (v) => { if (!Array.isArray(v)) throw new Error("condition: len of a non-list"); return v.length; },
    isNaN: (v) => Number.isNaN(num(v, "isNaN")),
    isInf: (v) => !Number.isFinite(num(v, "isInf")) && !Number.isNaN(v),
  };
  const primary = (): Thunk => {
    const t = take();
    if (t === "(") {
      const x = or();
      take(")");
      return x;
    }
    if (/^\d/.test(t)) {
      const n = Number(t);
      return () => n;
    }
    if (t === "true" || t === "false") return () => t === "true";
    if (t === "result") return () => (typeof result === "number" ? result : [...result]);
    if (FUNCS[t]) {
      take("(");
      const arg = or();
      take(")");
      return () => FUNCS[t](arg());
    }
    throw new Error(`condition: unknown identifier or token "${t}"`);
  };
  const program = or();
  if (i !== tokens.length) throw new Error(`condition: unexpected "${tokens[i]}"`);
  return program();
}

function truthy(v: Value, what: string): boolean {
  if (typeof v !== "boolean") throw new Error(`condition: ${what} needs a boolean, got ${JSON.stringify(v)}`);
  return v;
}
