// docs/postmortems.md is the catalog: every ID in it must have a test named after it, every
// policy it names must exist in the pack (and every policy of the pack must be in it), and the
// files it points at must exist.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { policies } from "../policy/policies";
import { testedPmIds } from "../scripts/render";

const ROOT = path.resolve(__dirname, "..");
const DOC = fs.readFileSync(path.join(ROOT, "docs/postmortems.md"), "utf8");
const ALL_IDS = Array.from({ length: 40 }, (_, i) => `PM-${String(i + 1).padStart(2, "0")}`);

interface Row { id: string; encoded: string[]; proved: string[]; guarded: string[] }

/** Rows of the "Where each lesson lives" table. */
function locations(): Row[] {
  const section = DOC.split("## Where each lesson lives")[1]?.split("\n## ")[0] ?? "";
  const paths = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/^c\//, "components/"));
  return section.split("\n").filter((l) => /^\| PM-\d{2} \|/.test(l)).map((l) => {
    const [id, encoded, proved, guarded] = l.split("|").slice(1, 5).map((c) => c.trim());
    return { id, encoded: paths(encoded), proved: paths(proved), guarded: guarded === "—" ? [] : guarded.split(",").map((x) => x.trim()) };
  });
}

describe("post-mortem catalog", () => {
  const rows = locations();

  it("lists PM-01..PM-40 once each, in both tables", () => {
    expect(rows.map((r) => r.id)).toEqual(ALL_IDS);
    const incidents = DOC.split("## Where each lesson lives")[0].match(/^\| PM-\d{2} \|/gm)!.map((x) => x.slice(2, 7));
    expect(incidents).toEqual(ALL_IDS);
  });

  it("every catalog ID has a test whose name starts with it", () => {
    const tested = testedPmIds();
    expect(rows.filter((r) => !tested.has(r.id)).map((r) => r.id)).toEqual([]);
  });

  it("the policies it names exist, and every policy of the pack is in it", () => {
    const names = new Set(policies.map((p) => p.name));
    const named = rows.flatMap((r) => r.guarded.map((g) => ({ id: r.id, g })));
    expect(named.filter(({ g }) => !names.has(g))).toEqual([]);
    for (const { id, g } of named) expect(g.startsWith(id.toLowerCase()), `${id} ${g}`).toBe(true);
    // Policies named after an issue item (no post-mortem behind them, e.g. issue-14-1-...) are not catalog rows.
    expect([...names].filter((n) => !n.startsWith("issue-") && !named.some(({ g }) => g === n))).toEqual([]);
  });

  it("the code and test files it points at exist", () => {
    const missing = rows.flatMap((r) => [...r.encoded, ...r.proved].filter((f) => !fs.existsSync(path.join(ROOT, f))).map((f) => `${r.id}: ${f}`));
    expect(missing).toEqual([]);
  });
});
