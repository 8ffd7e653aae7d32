// Evaluate a PromQL query with the real engine (`promtool test rules`, Debian package `prometheus`)
// over synthetic scraped series, at chosen times. promtool only reports results that differ from
// the expected ones, so every time is first expected empty and the results are read from the
// failures; a second run then expects exactly those results and must pass, which proves the
// reading. Bounded in time, temp dir removed in finally.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { which } from "./binaries";

export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** One value per scrape (index i at i x interval); undefined: no sample (series not there yet). */
  readonly values: readonly (number | undefined)[];
}

export interface Sample {
  readonly labels: string;
  readonly value: number;
}

export interface PromtoolEval {
  /** Seconds between samples: the scrape interval. */
  readonly interval: number;
  readonly series: readonly Series[];
  /** The query, verbatim; it is also loaded as a recording rule, so promtool parses it as Prometheus would. */
  readonly expr: string;
  /** Evaluation times in whole seconds from the first sample. */
  readonly times: readonly number[];
  /** @default 20000 per promtool run */
  readonly timeoutMs?: number;
}

const selector = (labels: Readonly<Record<string, string>>) => {
  const { __name__: name, ...rest } = labels;
  return `${name}{${Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
};

/** promtool's value notation: numbers and `_` (missing), space-separated. */
const values = (v: readonly (number | undefined)[]) => v.map((x) => (x === undefined ? "_" : String(x))).join(" ");

/** Go's time.Duration.String() back to seconds: "1m7s" -> 67, "45s" -> 45, "0s" -> 0. */
export function goDurationSeconds(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?$/.exec(text);
  if (!m || text === "") throw new Error(`not a Go duration: ${text}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

const goFloat = (s: string) => (s === "+Inf" ? Infinity : s === "-Inf" ? -Infinity : Number(s));

/** `got: {} 9.5E-01, {a="b"} 1E+00` or `got: nil` -> samples. */
export function parseSamples(text: string): Sample[] {
  if (text.trim() === "nil" || text.trim() === "(empty)") return [];
  return [...text.matchAll(/(\{[^}]*\}) (\S+?)(?:,\s*|\s*$)/g)].map((m) => ({ labels: m[1], value: goFloat(m[2]) }));
}

function run(dir: string, file: string, timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(which("promtool") ?? "promtool", ["test", "rules", file], { cwd: dir, timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") return reject(new Error("promtool is not installed (Debian package prometheus)"));
      if (err && err.killed) return reject(new Error(`promtool timed out after ${timeoutMs} ms`));
      resolve({ code: err ? Number(err.code ?? 1) : 0, output: `${stdout}\n${stderr}` });
    });
  });
}

/** The query's result (its samples) at each time, as Prometheus' engine computes them. */
export async function promtoolEval(e: PromtoolEval): Promise<Sample[][]> {
  if (new Set(e.times).size !== e.times.length) throw new Error("promtoolEval: evaluation times must be distinct");
  const timeoutMs = e.timeoutMs ?? 20_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promtool-"));
  try {
    fs.writeFileSync(path.join(dir, "rules.yml"), YAML.stringify({ groups: [{ name: "analysis", rules: [{ record: "analysis:query", expr: e.expr }] }] }));
    const testFile = (expected: (t: number, i: number) => Sample[]) => YAML.stringify({
      rule_files: ["rules.yml"],
      evaluation_interval: `${e.interval}s`,
      tests: [{
        interval: `${e.interval}s`,
        input_series: e.series.map((s) => ({ series: selector(s.labels), values: values(s.values) })),
        promql_expr_test: e.times.map((t, i) => ({
          expr: e.expr, eval_time: `${t}s`,
          exp_samples: expected(t, i).map((s) => ({ labels: s.labels, value: s.value })),
        })),
      }],
    });
    fs.writeFileSync(path.join(dir, "probe.yml"), testFile(() => []));
    const probe = await run(dir, "probe.yml", timeoutMs);
    const got = new Map<number, Sample[]>();
    for (const m of probe.output.matchAll(/time: ([^,]+),\s*\n\s*exp: [^\n]*\n\s*got: ([^\n]*)/g)) got.set(goDurationSeconds(m[1].trim()), parseSamples(m[2]));
    if (probe.code !== 0 && got.size === 0) throw new Error(`promtool failed without a result:\n${probe.output}`);
    for (const t of got.keys()) if (!e.times.includes(t)) throw new Error(`promtool reported time ${t}s that was not asked for:\n${probe.output}`);
    const results = e.times.map((t) => got.get(t) ?? []);
    fs.writeFileSync(path.join(dir, "confirm.yml"), testFile((_t, i) => results[i]));
    const confirm = await run(dir, "confirm.yml", timeoutMs);
    if (confirm.code !== 0) throw new Error(`promtool disagrees with the results read from its output:\n${confirm.output}`);
    return results;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
