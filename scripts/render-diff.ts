// The PR review of the offline render: compares the render of a pull request's base with its head
// (`npm run render` in each), per stack: Kubernetes objects added, removed and changed (field by
// field), chart releases whose inputs or values changed, and the resource budget before and after.
// The Markdown for the PR comment is render-diff-format.ts.
//   npm run render:diff -- <baseOut> <headOut> [--out FILE] [--full FILE] [--max-chars N]
//     [--base-label TEXT] [--head-label TEXT] [--base-error LOG] [--head-error LOG]
// --full writes the same diff without the size bound (for the job log).
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { REDACTED, REDACTED_B64, RENDER_FORMAT, SECRET_DIGEST, digestOf, stableJson } from "./render";
import { FormatOptions, formatDiff } from "./render-diff-format";


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
  if (isPlaceholder(value)) return REDACTED;
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

const isPlaceholder = (v: unknown) => v === REDACTED || v === REDACTED_B64 || (typeof v === "string" && new RegExp(`^${SECRET_DIGEST.source}$`).test(v));

/**
 * The comment may be public (a GitHub pull request): the values of a Secret are never shown, even
 * one a component forgot to mark secret. They become digests, so a change still shows as one.
 */
export function maskSecretData(object: Obj): Obj {
  if (object.apiVersion !== "v1" || object.kind !== "Secret") return object;
  const mask = (m: unknown) => (isObj(m) ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, isPlaceholder(v) ? v : digestOf(v)])) : m);
  return { ...object, ...("data" in object ? { data: mask(object.data) } : {}), ...("stringData" in object ? { stringData: mask(object.stringData) } : {}) };
}

export function diffStack(stack: string, base: StackRender | undefined, head: StackRender | undefined): StackDiff {
  const plain = base?.source === "yaml" || head?.source === "yaml" ? plainSecrets : (v: unknown) => v;
  const normalize = (v: unknown) => plain(isObj(v) ? maskSecretData(v) : v);
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
