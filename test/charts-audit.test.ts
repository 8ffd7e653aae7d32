// docs/charts.md records, per pinned chart, what its templates make up at render time and how our
// values keep the render stable. This keeps it honest: every chart of `charts` has rows for its
// pinned version (a bump fails until it is re-audited), and every `path` = `value` the doc claims
// holds in the values each whole stack passes to that chart (what `pulumi up` would render with).
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { charts } from "../components/lib/versions";
import { findAll, plain } from "./helpers/mocks";
import { runStack } from "./helpers/stack";

const ROOT = path.resolve(__dirname, "..");
const DOC = fs.readFileSync(path.join(ROOT, "docs/charts.md"), "utf8");
const OUTCOMES = ["none", "not rendered", "deterministic", "fixed"] as const;
const STACKS = ["dev", "oci", "homelab"] as const;

interface Claim { readonly path: string; readonly value: unknown }
interface AuditRow {
  readonly chart: string;
  readonly version: string;
  /** A row about a subchart we turn off rather than the chart's own templates. */
  readonly subchart: boolean;
  readonly outcome: string;
  readonly claims: Claim[];
  readonly line: string;
}

function section(title: string): string {
  const body = DOC.split(`\n## ${title}\n`)[1];
  if (body === undefined) throw new Error(`docs/charts.md has no "## ${title}" section`);
  return body.split("\n## ")[0];
}

/** Data rows of the first table in a section, as trimmed cells. */
function tableRows(text: string): string[][] {
  return text.split("\n").filter((l) => /^\|/.test(l) && !/^\|\s*-/.test(l)).slice(1)
    .map((l) => l.replace(/^\||\|$/g, "").split("|").map((c) => c.trim()));
}

/** `a.b.c` = `<JSON or unset>` claims in a cell. */
function claims(cell: string): Claim[] {
  return [...cell.matchAll(/`([^`\s]+)` = `([^`]+)`/g)].map((m) => ({ path: m[1], value: m[2] === "unset" ? undefined : JSON.parse(m[2]) }));
}

function auditRows(): AuditRow[] {
  return tableRows(section("Render-time values per pinned chart")).map((cells) => {
    const [chart, version, fn, , outcome, fix] = cells;
    const keyword = OUTCOMES.find((o) => outcome === o || outcome.startsWith(`${o}:`));
    if (!keyword) throw new Error(`docs/charts.md: outcome "${outcome}" of ${chart} is not one of ${OUTCOMES.join(", ")}`);
    return { chart, version, subchart: /^subcharts? /.test(fn), outcome: keyword, claims: [...claims(outcome), ...claims(fix)], line: cells.join(" | ") };
  });
}

function at(values: unknown, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), values);
}

describe("docs/charts.md: render-time values per pinned chart", () => {
  const rows = auditRows();
  const sources = tableRows(section("How the audit was done"));
  /** Per stack: chart name -> the values its one Chart resource receives. */
  const installed = new Map<string, Map<string, unknown>>();

  beforeAll(async () => {
    for (const stack of STACKS) {
      const run = await runStack(stack);
      const byChart = new Map<string, unknown>();
      for (const c of findAll(run.created, "kubernetes:helm.sh/v4:Chart")) {
        expect(byChart.has(c.inputs.chart), `${stack}: ${c.inputs.chart} installed twice`).toBe(false);
        byChart.set(c.inputs.chart, plain(c.inputs.values));
      }
      installed.set(stack, byChart);
    }
  }, 60_000);

  it("every pinned chart has audit rows and a source ref for exactly its pinned version", () => {
    for (const pin of Object.values(charts)) {
      const mine = rows.filter((r) => r.chart === pin.chart);
      // Its own templates, not only the subcharts it carries.
      expect(mine.filter((r) => !r.subchart).length, `no audit row for ${pin.chart}'s own templates`).toBeGreaterThan(0);
      for (const r of mine) expect(r.version, `${pin.chart} audited at ${r.version}, pinned at ${pin.version}: re-audit`).toBe(pin.version);
      const src = sources.filter((s) => s[0] === pin.chart);
      expect(src.map((s) => s[1]), `source ref of ${pin.chart}`).toEqual([pin.version]);
    }
    const pinned = new Set<string>(Object.values(charts).map((p) => p.chart));
    expect(rows.filter((r) => !pinned.has(r.chart)).map((r) => r.chart)).toEqual([]);
  });

  it("the stacks install exactly the pinned charts, at their pinned versions", async () => {
    const pinned = Object.values(charts).map((p) => p.chart).sort();
    for (const stack of STACKS) expect([...installed.get(stack)!.keys()].sort(), stack).toEqual(pinned);
    const run = await runStack("dev");
    for (const c of findAll(run.created, "kubernetes:helm.sh/v4:Chart")) {
      expect(c.inputs.version).toBe(Object.values(charts).find((p) => p.chart === c.inputs.chart)!.version);
    }
  });

  it("a fixed or not-rendered row says which values decide it", () => {
    for (const r of rows.filter((x) => x.outcome === "fixed" || x.outcome === "not rendered")) {
      expect(r.claims.length, `no \`path\` = \`value\` in: ${r.line}`).toBeGreaterThan(0);
    }
    expect(rows.filter((r) => r.outcome === "fixed").length).toBeGreaterThan(0);
  });

  it("every claimed value is what each stack passes to that chart", () => {
    const failures: string[] = [];
    for (const r of rows) {
      for (const c of r.claims) {
        for (const stack of STACKS) {
          const got = at(installed.get(stack)!.get(r.chart), c.path);
          if (JSON.stringify(got) !== JSON.stringify(c.value)) failures.push(`${stack} ${r.chart} ${c.path}: doc says ${JSON.stringify(c.value)}, values have ${JSON.stringify(got)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
