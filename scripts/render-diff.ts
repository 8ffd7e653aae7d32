// The PR review of the offline render: compares the render of a pull request's base with its head
// (`npm run render` in each), per stack: Kubernetes objects added, removed and changed (field by
// field), chart releases whose inputs or values changed, and the resource budget before and after.
// Writes Markdown for one PR comment: deterministic, secrets as `[secret]`, bounded in size.
//   npm run render:diff -- <baseOut> <headOut> [--out FILE] [--full FILE] [--max-chars N]
//     [--base-label TEXT] [--head-label TEXT] [--base-error LOG] [--head-error LOG]
// --full writes the same diff without the size bound (for the job log).
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { stableYaml } from "../components/cluster/k3s-config";
import { REDACTED, REDACTED_B64, RENDER_FORMAT, SECRET_DIGEST, stableJson } from "./render";

/** GitHub refuses comments over 65536 characters; Gitea stores them in a TEXT column (64 KiB). */
export const COMMENT_LIMIT = 65_000;
/** First line of the comment: how the workflow finds its own comment to update. */
export const MARKER = "<!-- platform:render-diff -->";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

export interface RenderedObject {
  /** Identity of the object in the cluster: `[group/]Kind [namespace/]name`, ` (patch)` for Patch resources. */
  readonly key: string;
  /** Pulumi type token and resource name (two resources may declare one object). */
  readonly type: string;
  readonly name: string;
  readonly object: Obj;
}

export interface ChartRelease {
  readonly name: string;
  readonly type: string;
  /** chart, version, repositoryOpts, namespace, release name, values (secrets redacted). */
  readonly inputs: Obj;
}

export interface BudgetSummary {
  readonly capacity?: { readonly cpuMillis?: number; readonly memoryMi?: number; readonly description?: string };
  readonly requests?: { readonly cpuMillis?: number; readonly memoryMi?: number };
  readonly limits?: { readonly memoryMi?: number };
  readonly freeMemoryPercent?: number;
}

export interface StackRender {
  readonly stack: string;
  readonly objects: readonly RenderedObject[];
  readonly charts: readonly ChartRelease[];
  readonly budget?: BudgetSummary;
  /** render.json, or the YAML files of a render that predates it (no budget, no secret digests). */
  readonly source: "render.json" | "yaml";
}

/** `[group/]Kind [namespace/]name`: what the API server knows the object by. */
export function objectKey(type: string, object: Obj): string {
  const apiVersion = String(object.apiVersion ?? "");
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  const meta = isObj(object.metadata) ? object.metadata : {};
  const ns = typeof meta.namespace === "string" && meta.namespace ? `${meta.namespace}/` : "";
  const name = typeof meta.name === "string" ? meta.name : "?";
  return `${group ? `${group}/` : ""}${String(object.kind ?? "?")} ${ns}${name}${type.endsWith("Patch") ? " (patch)" : ""}`;
}

const byCodepoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Parses render.json (written by scripts/render.ts). */
export function parseRenderJson(text: string): StackRender {
  const doc = JSON.parse(text) as { format?: number; stack?: string; objects?: Obj[]; charts?: Obj[]; budget?: BudgetSummary | null };
  if (doc.format !== RENDER_FORMAT) throw new Error(`render.json format ${doc.format} is not the ${RENDER_FORMAT} this render-diff reads`);
  return {
    stack: String(doc.stack),
    objects: (doc.objects ?? []).map((o) => ({ key: objectKey(String(o.type), o.object as Obj), type: String(o.type), name: String(o.name), object: o.object as Obj })),
    charts: (doc.charts ?? []).map((c) => ({ name: String(c.name), type: String(c.type), inputs: c.inputs as Obj })),
    budget: doc.budget ?? undefined,
    source: "render.json",
  };
}

/** A render without render.json: the YAML files, each headed `# <type> <resource name>`. */
export function parseRenderFiles(stack: string, files: ReadonlyMap<string, string>): StackRender {
  const objects: RenderedObject[] = [];
  const charts: ChartRelease[] = [];
  for (const [file, text] of [...files].sort(([a], [b]) => byCodepoint(a, b))) {
    if (!file.endsWith(".yaml")) continue;
    const head = /^# (\S+) (\S+)\n/.exec(text);
    const doc = YAML.parse(text) as Obj;
    const type = head?.[1] ?? "?";
    const name = head?.[2] ?? file;
    if (file.startsWith("charts/")) charts.push({ name, type, inputs: doc });
    else if (isObj(doc)) objects.push({ key: objectKey(type, doc), type, name, object: doc });
  }
  return { stack, objects, charts, source: "yaml" };
}

function listFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile()) out.set(path.relative(dir, path.join(d.parentPath, d.name)).split(path.sep).join("/"), fs.readFileSync(path.join(d.parentPath, d.name), "utf8"));
  }
  return out;
}

/** Every stack rendered under `outDir` (out/<stack>/), by name; empty when the directory is missing. */
export function loadRenders(outDir: string): Map<string, StackRender> {
  const out = new Map<string, StackRender>();
  if (!fs.existsSync(outDir)) return out;
  for (const d of fs.readdirSync(outDir, { withFileTypes: true }).filter((x) => x.isDirectory()).map((x) => x.name).sort(byCodepoint)) {
    const dir = path.join(outDir, d);
    if (fs.existsSync(path.join(dir, "render.json"))) out.set(d, parseRenderJson(fs.readFileSync(path.join(dir, "render.json"), "utf8")));
    else if (fs.existsSync(path.join(dir, "summary.md"))) out.set(d, parseRenderFiles(d, listFiles(dir)));
  }
  return out;
}

export interface FieldChange {
  /** `spec.template.spec.containers[api].image`; list items with a unique `name` are keyed by it. */
  readonly path: string;
  /** undefined: the field is absent on that side. */
  readonly before?: unknown;
  readonly after?: unknown;
}

const same = (a: unknown, b: unknown) => stableJson(a) === stableJson(b);
const joinKey = (p: string, k: string) => (/^[A-Za-z_$][\w$-]*$/.test(k) ? (p ? `${p}.${k}` : k) : `${p}[${JSON.stringify(k)}]`);

function namesOf(list: unknown[]): string[] | undefined {
  if (!list.every((e) => isObj(e) && typeof e.name === "string")) return undefined;
  const names = list.map((e) => (e as Obj).name as string);
  return new Set(names).size === names.length ? names : undefined;
}

/** The leaves that differ between two values: maps key by key, named lists by name, other lists as a whole. */
export function diffValues(a: unknown, b: unknown, at = ""): FieldChange[] {
  if (same(a, b)) return [];
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(byCodepoint);
    return keys.flatMap((k) => diffValues(a[k], b[k], joinKey(at, k)));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length > 0 && b.length > 0) {
    const na = namesOf(a);
    const nb = namesOf(b);
    if (na && nb) {
      const find = (list: unknown[], n: string) => list.find((e) => (e as Obj).name === n);
      const order = [...nb, ...na.filter((n) => !nb.includes(n))];
      return order.flatMap((n) => diffValues(find(a, n), find(b, n), `${at}[${n}]`));
    }
    if (a.length === b.length && a.every(isObj) && b.every(isObj)) return a.flatMap((x, i) => diffValues(x, b[i], `${at}[${i}]`));
  }
  return [{ path: at, ...(a === undefined ? {} : { before: a }), ...(b === undefined ? {} : { after: b }) }];
}

/** Digests and plain placeholders compare equal when one side predates digests (a YAML-only render). */
function plainSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainSecrets);
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainSecrets(v)]));
  if (typeof value === "string" && (value === REDACTED_B64 || new RegExp(`^${SECRET_DIGEST.source}$`).test(value))) return REDACTED;
  return value;
}

export interface ObjectChange {
  readonly key: string;
  readonly changes: readonly FieldChange[];
}

export interface ChartChange {
  readonly name: string;
  readonly before?: ChartRelease;
  readonly after?: ChartRelease;
  readonly changes: readonly FieldChange[];
}

export interface StackDiff {
  readonly stack: string;
  readonly base?: StackRender;
  readonly head?: StackRender;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly ObjectChange[];
  readonly unchanged: number;
  readonly charts: readonly ChartChange[];
  /** Keys more than one resource declares at the head but not at the base (FIELD-NOTES, "What mocks hide"). */
  readonly duplicates: readonly string[];
}

/**
 * Objects by key. A key two resources share gets each resource's name, and resources that share
 * the name as well (a duplicate URN) a number, in content order: the pairing of base and head
 * must not depend on the order a render or its files list them in.
 */
function indexObjects(objects: readonly RenderedObject[]): { byKey: Map<string, Obj>; duplicates: string[] } {
  const groups = new Map<string, RenderedObject[]>();
  for (const o of objects) groups.set(o.key, [...(groups.get(o.key) ?? []), o]);
  const byKey = new Map<string, Obj>();
  for (const [key, group] of groups) {
    if (group.length === 1) { byKey.set(key, group[0].object); continue; }
    const sorted = group.map((o) => ({ o, json: stableJson(o.object) }))
      .sort((a, b) => byCodepoint(a.o.name, b.o.name) || byCodepoint(a.json, b.json));
    const seen = new Map<string, number>();
    for (const { o } of sorted) {
      const n = (seen.get(o.name) ?? 0) + 1;
      seen.set(o.name, n);
      byKey.set(`${key} [${o.name}${n > 1 ? ` #${n}` : ""}]`, o.object);
    }
  }
  return { byKey, duplicates: [...groups].filter(([, g]) => g.length > 1).map(([k]) => k).sort(byCodepoint) };
}

export function diffStack(stack: string, base: StackRender | undefined, head: StackRender | undefined): StackDiff {
  const normalize = base?.source === "yaml" || head?.source === "yaml" ? plainSecrets : (v: unknown) => v;
  const bi = indexObjects(base?.objects ?? []);
  const b = bi.byKey;
  const h = indexObjects(head?.objects ?? []);
  const keys = [...new Set([...b.keys(), ...h.byKey.keys()])].sort(byCodepoint);
  const added: string[] = [];
  const removed: string[] = [];
  const changed: ObjectChange[] = [];
  let unchanged = 0;
  for (const k of keys) {
    const before = b.get(k);
    const after = h.byKey.get(k);
    if (!before) added.push(k);
    else if (!after) removed.push(k);
    else {
      const changes = diffValues(normalize(before), normalize(after));
      if (changes.length > 0) changed.push({ key: k, changes });
      else unchanged++;
    }
  }
  const bc = new Map((base?.charts ?? []).map((c) => [c.name, c]));
  const hc = new Map((head?.charts ?? []).map((c) => [c.name, c]));
  const charts: ChartChange[] = [...new Set([...bc.keys(), ...hc.keys()])].sort(byCodepoint).flatMap((name) => {
    const before = bc.get(name);
    const after = hc.get(name);
    const changes = diffValues(normalize(before?.inputs), normalize(after?.inputs));
    return changes.length === 0 ? [] : [{ name, before, after, changes }];
  });
  return { stack, base, head, added, removed, changed, unchanged, charts, duplicates: h.duplicates.filter((k) => !bi.duplicates.includes(k)) };
}

/** Every stack either side rendered, in name order. */
export function diffRenders(base: ReadonlyMap<string, StackRender>, head: ReadonlyMap<string, StackRender>): StackDiff[] {
  return [...new Set([...base.keys(), ...head.keys()])].sort(byCodepoint).map((s) => diffStack(s, base.get(s), head.get(s)));
}

// ---- Markdown ---------------------------------------------------------------------------------

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

// ---- CLI --------------------------------------------------------------------------------------

export interface CliArgs {
  readonly baseDir: string;
  readonly headDir: string;
  readonly out?: string;
  readonly full?: string;
  readonly options: FormatOptions;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const args = argv.filter((a) => a !== "--");
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith("--")) {
      const value = args[i + 1];
      if (value === undefined) throw new Error(`${args[i]} needs a value`);
      flags.set(args[i].slice(2), value);
      i++;
    } else positional.push(args[i]);
  }
  const known = ["out", "full", "max-chars", "base-label", "head-label", "base-error", "head-error"];
  const unknown = [...flags.keys()].filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`unknown option --${unknown[0]}; known: ${known.map((k) => `--${k}`).join(", ")}`);
  if (positional.length !== 2) throw new Error("usage: render-diff <baseOut> <headOut> [--out FILE] [--full FILE] [--max-chars N] [--base-label L] [--head-label L] [--base-error LOG] [--head-error LOG]");
  const max = flags.has("max-chars") ? Number(flags.get("max-chars")) : undefined;
  if (max !== undefined && !(Number.isInteger(max) && max >= 1000)) throw new Error(`--max-chars must be an integer >= 1000, got "${flags.get("max-chars")}"`);
  const log = (k: string) => (flags.has(k) ? (fs.existsSync(flags.get(k)!) ? fs.readFileSync(flags.get(k)!, "utf8") : `(no log at ${flags.get(k)})`) : undefined);
  return {
    baseDir: positional[0], headDir: positional[1], out: flags.get("out"), full: flags.get("full"),
    options: { maxChars: max, baseLabel: flags.get("base-label"), headLabel: flags.get("head-label"), baseError: log("base-error"), headError: log("head-error") },
  };
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const diffs = diffRenders(loadRenders(args.baseDir), loadRenders(args.headDir));
  const markdown = formatDiff(diffs, args.options);
  if (args.full) fs.writeFileSync(args.full, formatDiff(diffs, { ...args.options, maxChars: Number.MAX_SAFE_INTEGER, blockLines: Number.MAX_SAFE_INTEGER }));
  if (args.out) fs.writeFileSync(args.out, markdown);
  else process.stdout.write(markdown);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
