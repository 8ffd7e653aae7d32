// The render diff as Markdown for one PR comment: a summary table per stack, then what changed,
// as diff blocks; deterministic, secrets as `[secret]` (never a digest), bounded in size.
import { stableYaml } from "../components/cluster/k3s-config";
import { REDACTED, SECRET_DIGEST } from "./render";
import type { BudgetSummary, ChartRelease, FieldChange, StackDiff } from "./render-diff";

/** GitHub refuses comments over 65536 characters; Gitea stores them in a TEXT column (64 KiB). */
export const COMMENT_LIMIT = 65_000;
/** First line of the comment: how the workflow finds its own comment to update. */
export const MARKER = "<!-- platform:render-diff -->";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** `[secret:<digest>]` never reaches the comment. */
export const scrub = (s: string) => s.replace(SECRET_DIGEST, REDACTED);
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
/** Code inside HTML (a <summary>): escaped, on one line. */
const htmlCode = (s: string) => `<code>${esc(scrub(s)).replace(/[\r\n]+/g, " ")}</code>`;
/** Inline code that no value can break out of (no backticks, no newlines). */
const code = (s: string) => `\`${scrub(s).replace(/[`\r\n]/g, "'")}\``;
/** A fenced block whose fence is longer than any backtick run inside it. */
function fenced(lang: string, lines: readonly string[]): string {
  const body = lines.join("\n");
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${body}\n${fence}`;
}

/** Line diff (longest common subsequence) with `context` unchanged lines around each change. */
export function unifiedDiff(before: string, after: string, context = 3): string[] {
  // Both ending in a newline is not an empty last line that differs.
  const lines = (s: string) => (before.endsWith("\n") && after.endsWith("\n") ? s.slice(0, -1) : s).split("\n");
  const a = lines(before);
  const b = lines(after);
  if (a.length * b.length > 4_000_000) return [...a.map((l) => `- ${l}`), ...b.map((l) => `+ ${l}`)];
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) {
    lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const ops: [" " | "-" | "+", string][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { ops.push([" ", a[i]]); i++; j++; }
    else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push(["-", a[i++]]);
    else ops.push(["+", b[j++]]);
  }
  const near = ops.map((_, k) => ops.slice(Math.max(0, k - context), k + context + 1).some(([t]) => t !== " "));
  const out: string[] = [];
  ops.forEach(([t, line], k) => {
    if (near[k]) out.push(`${t} ${line}`);
    else if (k === 0 || near[k - 1]) out.push("  …");
  });
  return out;
}

const MAX_VALUE = 240;
const oneLine = (v: unknown) => {
  const s = scrub(JSON.stringify(v) ?? String(v));
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
};
const isDigest = (v: unknown) => typeof v === "string" && new RegExp(`^${SECRET_DIGEST.source}$`).test(v);

function valueLines(sign: "-" | "+", v: unknown): string[] {
  if (v === undefined) return [];
  if (typeof v === "string" && v.includes("\n")) return v.replace(/\n$/, "").split("\n").map((l) => `${sign} ${scrub(l)}`);
  if (isObj(v) || (Array.isArray(v) && v.length > 0)) return scrub(stableYaml(v)).replace(/\n$/, "").split("\n").map((l) => `${sign} ${l}`);
  return [`${sign} ${oneLine(v)}`];
}

/** One change as diff lines: `@@ path`, then what was (-) and what is (+). */
export function changeLines(c: FieldChange): string[] {
  const what = c.before === undefined ? " (added)" : c.after === undefined ? " (removed)" : isDigest(c.before) && isDigest(c.after) ? " (secret value changed)" : "";
  const head = `@@ ${c.path || "(whole value)"}${what}`;
  if (typeof c.before === "string" && typeof c.after === "string" && (c.before.includes("\n") || c.after.includes("\n"))) {
    return [head, ...unifiedDiff(c.before, c.after).map(scrub)];
  }
  return [head, ...valueLines("-", c.before), ...valueLines("+", c.after)];
}

/** A collapsed diff of a few changes, capped so that one large change cannot crowd out the rest. */
function detailsBlock(summary: string, changes: readonly FieldChange[], max: number): string {
  let lines = changes.flatMap(changeLines);
  if (lines.length > max) lines = [...lines.slice(0, max), `… ${lines.length - max} more lines (see the job log)`];
  return `<details><summary>${summary}</summary>\n\n${fenced("diff", lines)}\n\n</details>`;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
const signed = (n: number, unit = "") => `${n > 0 ? "+" : n < 0 ? "−" : "±"}${Math.abs(n)}${unit}`;

function budgetCells(before?: BudgetSummary, after?: BudgetSummary): [string, string, string, string] {
  const req = (x?: BudgetSummary) => x?.requests ? `${x.requests.cpuMillis}m / ${x.requests.memoryMi} Mi` : "n/a";
  const lim = (x?: BudgetSummary) => x?.limits ? `${x.limits.memoryMi} Mi` : "n/a";
  const free = (x?: BudgetSummary) => x?.freeMemoryPercent === undefined ? "n/a" : `${x.freeMemoryPercent} %`;
  const cap = (x?: BudgetSummary) => x?.capacity ? `${x.capacity.cpuMillis}m / ${x.capacity.memoryMi} Mi` : "n/a";
  const pair = (f: (x?: BudgetSummary) => string, delta?: (b: BudgetSummary, a: BudgetSummary) => string) => {
    if (!before && !after) return "n/a";
    if (!before) return `n/a → ${f(after)}`;
    if (!after) return `${f(before)} → n/a`;
    const [x, y] = [f(before), f(after)];
    if (x === y) return x;
    const d = delta && before && after ? delta(before, after) : "";
    return `${x} → ${y}${d ? ` (${d})` : ""}`;
  };
  const n = (v?: number) => v ?? 0;
  return [
    pair(cap),
    pair(req, (b, a) => `${signed(n(a.requests?.cpuMillis) - n(b.requests?.cpuMillis), "m")} / ${signed(n(a.requests?.memoryMi) - n(b.requests?.memoryMi), " Mi")}`),
    pair(lim, (b, a) => signed(n(a.limits?.memoryMi) - n(b.limits?.memoryMi), " Mi")),
    pair(free, (b, a) => signed(n(a.freeMemoryPercent) - n(b.freeMemoryPercent), " pt")),
  ];
}

export interface FormatOptions {
  readonly baseLabel?: string;
  readonly headLabel?: string;
  /** Tails of the render logs of a side that failed. */
  readonly baseError?: string;
  readonly headError?: string;
  /** @default COMMENT_LIMIT */
  readonly maxChars?: number;
  /** Diff lines shown per object or chart. @default 100 */
  readonly blockLines?: number;
}

/** A piece of the comment: always in full (`short` undefined), or short first and full where room is left. */
interface Block { readonly full: string; readonly short?: string }

function logBlock(side: string, log: string): Block {
  const lines = scrub(log).replace(/\s+$/, "").split("\n").slice(-40).map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
  return {
    full: `<details><summary>${side} render log (last ${lines.length} lines)</summary>\n\n${fenced("text", lines)}\n\n</details>`,
    short: `${side} render log: see the job log.`,
  };
}

function stackBlocks(d: StackDiff, opts: FormatOptions): Block[] {
  const blocks: Block[] = [];
  const changes = d.added.length + d.removed.length + d.changed.length + d.charts.length;
  const title = `#### ${code(d.stack)}`;
  if (!d.head) {
    blocks.push({ full: `${title}\n\n${opts.headError !== undefined ? "Not rendered at the head (the render failed)." : "Removed at the head: the stack no longer renders."}` });
    return blocks;
  }
  if (!d.base && opts.baseError !== undefined) {
    blocks.push({ full: `${title}\n\nThe base did not render, so there is nothing to compare with: ${plural(d.head.objects.length, "object")} and ${plural(d.head.charts.length, "chart release")} at the head.` });
    return blocks;
  }
  if (changes === 0 && d.duplicates.length === 0) return blocks;
  blocks.push({ full: `${title}${d.base ? "" : " (new stack)"}` });
  if (d.duplicates.length > 0) {
    blocks.push({ full: `> [!WARNING]\n> New here: declared by more than one resource (the engine refuses a duplicate URN; two URNs for one object fight at the API server): ${d.duplicates.map(code).join(", ")}.` });
  }
  const list = (label: string, keys: readonly string[]) => keys.length === 0 ? [] : [{
    full: `**${label}** (${keys.length}):\n${keys.map((k) => `- ${code(k)}`).join("\n")}`,
    short: `**${label}**: ${plural(keys.length, "object")} (list left out).`,
  }];
  blocks.push(...list("Added", d.added), ...list("Removed", d.removed));
  if (d.changed.length > 0) {
    blocks.push({ full: `**Changed** (${d.changed.length}):` });
    for (const c of d.changed) {
      const summary = `${htmlCode(c.key)}: ${plural(c.changes.length, "field")}`;
      blocks.push({ full: detailsBlock(summary, c.changes, opts.blockLines ?? 100), short: `- ${code(c.key)}: ${plural(c.changes.length, "field")} (diff left out)` });
    }
  }
  if (d.charts.length > 0) {
    blocks.push({ full: `**Chart releases** (${d.charts.length}):` });
    for (const c of d.charts) {
      const ver = (r?: ChartRelease) => (r ? `${String(r.inputs.chart)} ${String(r.inputs.version ?? "(unpinned)")}` : "none");
      const v = ver(c.before) === ver(c.after) ? ver(c.after) : `${ver(c.before)} → ${ver(c.after)}`;
      const what = !c.before ? "added" : !c.after ? "removed" : plural(c.changes.length, "field");
      const summary = `${htmlCode(c.name)} (${esc(scrub(v)).replace(/[\r\n]+/g, " ")}): ${what}`;
      blocks.push({ full: detailsBlock(summary, c.changes, opts.blockLines ?? 100), short: `- ${code(c.name)} (${code(v)}): ${what} (values diff left out)` });
    }
  }
  return blocks;
}

/** Lays blocks out under the limit: all of them short, then as many in full as fit, in order. */
function assemble(blocks: readonly Block[], max: number): string {
  const note = (n: number) => `> [!NOTE]\n> Truncated to stay under the comment limit: ${plural(n, "section")} shortened or left out. The full diff is in the job log (\`npm run render:diff\` locally).`;
  const room = note(9999).length + 2;
  const text = blocks.map((b) => b.short ?? b.full);
  const length = () => text.reduce((a, t) => a + t.length + 2, 0);
  // Even the short forms too long: leave out optional blocks from the end.
  for (let i = blocks.length - 1; i >= 0 && length() + room > max; i--) if (blocks[i].short !== undefined) text[i] = "";
  for (let i = 0; i < blocks.length; i++) {
    if (blocks[i].short === undefined || text[i] === "") continue;
    if (length() - text[i].length + blocks[i].full.length + room <= max) text[i] = blocks[i].full;
  }
  const cut = blocks.filter((b, i) => b.short !== undefined && text[i] !== b.full).length;
  const body = text.filter((t) => t !== "");
  if (cut > 0) body.push(note(cut));
  const out = `${body.join("\n\n")}\n`;
  return out.length <= max ? out : `${out.slice(0, max - 40)}\n\n… (cut at the comment limit)\n`;
}

/** The comment: a summary table per stack, then what changed; never more than `maxChars`. */
export function formatDiff(diffs: readonly StackDiff[], opts: FormatOptions = {}): string {
  const max = opts.maxChars ?? COMMENT_LIMIT;
  const rows = diffs.map((d) => {
    const objects = !d.head || (!d.base && opts.baseError !== undefined) ? "n/a"
      : d.added.length + d.removed.length + d.changed.length === 0 ? `no change (${d.unchanged})`
        : `+${d.added.length} −${d.removed.length} ~${d.changed.length} (${d.unchanged} same)`;
    const [cap, req, lim, free] = budgetCells(d.base?.budget, d.head?.budget);
    return `| ${code(d.stack)} | ${objects} | ${d.charts.length === 0 ? "–" : `~${d.charts.length}`} | ${cap} | ${req} | ${lim} | ${free} |`;
  });
  const total = diffs.reduce((a, d) => a + d.added.length + d.removed.length + d.changed.length + d.charts.length, 0);
  const labels = opts.baseLabel || opts.headLabel ? `Base ${code(opts.baseLabel ?? "?")} → head ${code(opts.headLabel ?? "?")}. ` : "";
  const blocks: Block[] = [
    { full: `${MARKER}\n### Offline render diff\n\n${labels}Both sides rendered by \`npm run render\` under Pulumi's mock runtime: no credentials, no cluster; secret values show as \`${REDACTED}\`.` },
  ];
  if (opts.headError !== undefined) blocks.push({ full: "> [!CAUTION]\n> The head did not render: the PR breaks `npm run render`." }, logBlock("Head", opts.headError));
  if (opts.baseError !== undefined) blocks.push({ full: "> [!WARNING]\n> The base did not render (it may predate `npm run render`): nothing to compare with." }, logBlock("Base", opts.baseError));
  blocks.push({
    full: diffs.length === 0 ? "No stack rendered on either side." : [
      "| stack | objects | charts | capacity (CPU / memory) | requests (CPU / memory) | memory limits | free memory |",
      "|---|---|---|---|---|---|---|", ...rows,
    ].join("\n"),
  });
  if (diffs.length > 0 && total === 0 && opts.headError === undefined && opts.baseError === undefined) blocks.push({ full: "No Kubernetes object or chart release changes in any stack." });
  for (const d of diffs) blocks.push(...stackBlocks(d, opts));
  return assemble(blocks, max);
}

