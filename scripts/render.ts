// Offline render: `npm run render -- [stack...]` evaluates each stack under the mock runtime and
// writes what it would apply: every Kubernetes object as YAML under out/<stack>/<namespace>/, the
// chart releases with their pinned versions and values under out/<stack>/charts/, and summary.md.
// Deterministic (sorted keys, sorted files, no timestamps), so a PR diff of out/ is the review.
// render.json holds the same render for machines (scripts/render-diff.ts): objects, charts, budget.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { stableYaml } from "../components/cluster/k3s-config";
import type { Created } from "../test/helpers/mocks";
import { Evaluation, evaluateStack, ProgramLoader, ROOT, STACKS } from "./evaluate";

// Markers Pulumi puts on serialized inputs (@pulumi/pulumi runtime/rpc.js).
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export const REDACTED = "[secret]";
/** Where the schema wants base64 (Secret.data, ConfigMap.binaryData): base64 of "[secret]". */
export const REDACTED_B64 = Buffer.from(REDACTED).toString("base64");

/** Sorted keys at every level: the same value always gives the same bytes. */
export function stableJson(value: unknown, indent?: number): string {
  const sort = (v: unknown): unknown => Array.isArray(v) ? v.map(sort)
    : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(value), null, indent);
}

/**
 * `[secret:<digest>]`: what render.json holds for a secret, so that a diff can tell a changed
 * secret from an unchanged one. The digest is of mock and placeholder values only (the render has
 * no credentials), it never leaves render.json, and render-diff prints `[secret]` in its place.
 */
export const SECRET_DIGEST = /\[secret:[0-9a-f]{16}\]/g;
export const digestOf = (v: unknown): string => `[secret:${createHash("sha256").update(`render-secret\0${stableJson(v)}`).digest("hex").slice(0, 16)}]`;

/**
 * Replaces secrets with a placeholder of the same type (string), resource references with their URN.
 * With `digest`, a secret becomes `[secret:<digest>]` instead (render.json only, never YAML).
 */
export function redact(value: unknown, b64 = false, digest = false): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, b64, digest));
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (SIG in o) {
      if (o[SIG] === SECRET_SIG) {
        const inner = (o as { value?: unknown }).value;
        const placeholder = (v: unknown) => digest ? digestOf(v) : b64 ? REDACTED_B64 : REDACTED;
        // A whole map turned secret (Secret.stringData holding one secret value): keep its keys,
        // which are not sensitive, so the object keeps its shape and still validates.
        if (inner && typeof inner === "object" && !Array.isArray(inner) && !(SIG in inner)) {
          return Object.fromEntries(Object.keys(inner).sort().map((k) => [k, placeholder((inner as Record<string, unknown>)[k])]));
        }
        return placeholder(inner);
      }
      if (o[SIG] === RESOURCE_SIG) return String(o.urn ?? "[resource]");
      return "[asset]";
    }
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, redact(v, b64, digest)]));
  }
  return value === UNKNOWN ? "[unknown]" : value;
}

export interface K8sDoc {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { name?: string; namespace?: string; [k: string]: unknown };
  readonly [key: string]: unknown;
}

/** The Kubernetes object a registered resource stands for, secrets redacted; undefined if none. */
export function toObject(c: Created, digest = false): K8sDoc | undefined {
  if (!c.type.startsWith("kubernetes:") || c.type.startsWith("kubernetes:helm.sh/")) return undefined;
  const { apiVersion, kind } = c.inputs ?? {};
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    const b64 = (kind === "Secret" && k === "data") || (kind === "ConfigMap" && k === "binaryData");
    out[k] = redact(v, b64, digest);
  }
  return out as K8sDoc;
}

type Model = new (data: unknown) => { validate(): void };

/**
 * The upstream schema of an object: kubernetes-models for built-in kinds, the CRD model packages
 * for Argo CD, Argo Rollouts and Istio. Istio kinds whose version the models lack (v1 of networking,
 * PeerAuthentication) use v1beta1: Istio promoted those APIs to v1 without changing their schema.
 */
export function schemaFor(apiVersion: string, kind: string): { model: Model; apiVersion: string } | undefined {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const candidates: [string, string][] = [];
  if (group === "argoproj.io") {
    candidates.push([`@kubernetes-models/argo-cd/${apiVersion}`, apiVersion], [`@kubernetes-models/argo-rollouts/${apiVersion}`, apiVersion]);
  } else if (group === "cert-manager.io") {
    // @kubernetes-models/cert-manager is not a dependency yet: certManagerShape() below stands in.
    candidates.push([`@kubernetes-models/cert-manager/${apiVersion}`, apiVersion]);
  } else if (group.endsWith(".istio.io")) {
    candidates.push([`@kubernetes-models/istio/${apiVersion}`, apiVersion], [`@kubernetes-models/istio/${group}/v1beta1`, `${group}/v1beta1`]);
  } else {
    candidates.push([`kubernetes-models/${group ? `${group}/${version}` : version}`, apiVersion]);
  }
  for (const [mod, version] of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const model = require(mod)[kind];
      if (typeof model === "function") return { model, apiVersion: version };
    } catch {
      // not in this package: try the next
    }
  }
  return undefined;
}

/**
 * The required fields of cert-manager.io/v1 Certificate and ClusterIssuer (their CRDs in
 * deploy/charts/cert-manager @ v1.21: spec.secretName and spec.issuerRef.name; exactly one issuer
 * type, acme with server and privateKeySecretRef.name). Not the upstream schema: only until
 * @kubernetes-models/cert-manager is a dev dependency, whose models schemaFor() then prefers.
 */
function certManagerShape(obj: K8sDoc): string | undefined {
  const spec = (obj as { spec?: Record<string, any> }).spec ?? {};
  const what = `${obj.apiVersion} ${obj.kind} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? "?"}`;
  if (obj.apiVersion !== "cert-manager.io/v1") return `${what}: only cert-manager.io/v1 is served by cert-manager v1.21`;
  if (obj.kind === "Certificate") {
    if (typeof spec.secretName !== "string" || !spec.secretName) return `${what}: spec.secretName is required`;
    if (typeof spec.issuerRef?.name !== "string") return `${what}: spec.issuerRef.name is required`;
    if (!Array.isArray(spec.dnsNames) || spec.dnsNames.some((d: unknown) => typeof d !== "string")) return `${what}: spec.dnsNames must be a list of names`;
    return undefined;
  }
  if (obj.kind === "ClusterIssuer" || obj.kind === "Issuer") {
    const types = ["acme", "ca", "vault", "selfSigned", "venafi"].filter((t) => spec[t] !== undefined);
    if (types.length !== 1) return `${what}: exactly one issuer type, got ${types.join(", ") || "none"}`;
    if (spec.acme && (typeof spec.acme.server !== "string" || typeof spec.acme.privateKeySecretRef?.name !== "string")) return `${what}: spec.acme.server and spec.acme.privateKeySecretRef.name are required`;
    if (spec.ca && typeof spec.ca.secretName !== "string") return `${what}: spec.ca.secretName is required`;
    return undefined;
  }
  return `${what}: no upstream schema known (add @kubernetes-models/cert-manager)`;
}

/** Validates an object against its upstream schema; returns the error, or undefined when valid. */
export function schemaError(obj: K8sDoc): string | undefined {
  const schema = schemaFor(obj.apiVersion, obj.kind);
  if (!schema && obj.apiVersion.startsWith("cert-manager.io/")) return certManagerShape(obj);
  if (!schema) return `${obj.apiVersion} ${obj.kind}: no upstream schema known (add its model package to scripts/render.ts)`;
  try {
    new schema.model({ ...obj, apiVersion: schema.apiVersion }).validate();
    return undefined;
  } catch (err) {
    return `${obj.apiVersion} ${obj.kind} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? "?"}: ${(err as Error).message}`;
  }
}

/** Version of render.json's layout; render-diff refuses one it does not know. */
export const RENDER_FORMAT = 1;

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9.-]+/g, "-");

export interface RenderedStack {
  /** Relative path -> file content. */
  readonly files: Map<string, string>;
  readonly objects: { readonly file: string; readonly object: K8sDoc }[];
}

/** PM IDs named by a test (`it("PM-XX …` / `test("PM-XX …`), with the files that test them. */
export function testedPmIds(dir = path.join(ROOT, "test")): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".test.ts")).sort()) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    for (const m of text.matchAll(/\b(?:it|test)(?:\.each\([^)]*\))?\(\s*["'`](PM-\d{2})\b/g)) {
      const files = out.get(m[1]) ?? [];
      if (!files.includes(f)) files.push(f);
      out.set(m[1], files);
    }
  }
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

function table(rows: [string, string][], head: [string, string]): string {
  return [`| ${head[0]} | ${head[1]} |`, "|---|---|", ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join("\n");
}

function flatten(value: unknown, prefix = ""): [string, string][] {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, `\`${JSON.stringify(redact(value))}\``]];
}

/** Builds every file of out/<stack>/ in memory (pure: the same evaluation gives the same bytes). */
export function renderStack(ev: Evaluation, tested: Map<string, string[]> = testedPmIds()): RenderedStack {
  const files = new Map<string, string>();
  const objects: { file: string; object: K8sDoc }[] = [];
  const byType = new Map<string, number>();
  const charts: Created[] = [];
  const unrendered: Created[] = [];
  const machine = { objects: [] as unknown[], charts: [] as unknown[] };
  // Sorted by type and resource name first, so file names (and collision suffixes) never depend on registration order.
  const created = [...ev.created].sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  for (const c of created) {
    byType.set(c.type, (byType.get(c.type) ?? 0) + 1);
    if (c.type.startsWith("kubernetes:helm.sh/")) { charts.push(c); continue; }
    const object = toObject(c);
    if (!object) {
      if (c.type.startsWith("kubernetes:")) unrendered.push(c);
      continue;
    }
    const ns = object.metadata?.namespace ?? "_cluster";
    const patch = c.type.endsWith("Patch") ? "patch-" : "";
    let file = `${slug(ns)}/${patch}${slug(object.kind)}-${slug(object.metadata?.name ?? c.name)}.yaml`;
    if (files.has(file)) file = file.replace(/\.yaml$/, `--${slug(c.name)}.yaml`);
    files.set(file, `# ${c.type} ${c.name}\n${stableYaml(object)}`);
    objects.push({ file, object });
    machine.objects.push({ file, type: c.type, name: c.name, object: toObject(c, true) });
  }
  for (const c of charts) {
    const file = `charts/${slug(c.name)}.yaml`;
    files.set(file, `# ${c.type} ${c.name}\n${stableYaml(redact(c.inputs))}`);
    machine.charts.push({ file, type: c.type, name: c.name, inputs: redact(c.inputs, false, true) });
  }
  files.set("summary.md", summary(ev, { byType, charts, unrendered, objects: objects.length, tested }));
  files.set("render.json", `${stableJson({
    format: RENDER_FORMAT, stack: ev.stack, placeholders: ev.placeholders, ...machine,
    budget: ev.outputs.budget === undefined ? null : redact(ev.outputs.budget),
  }, 1)}\n`);
  return { files: new Map([...files.entries()].sort(([a], [b]) => a.localeCompare(b))), objects };
}

function summary(ev: Evaluation, s: { byType: Map<string, number>; charts: Created[]; unrendered: Created[]; objects: number; tested: Map<string, string[]> }): string {
  const lines = [
    `# Offline render: stack \`${ev.stack}\``,
    "",
    "Evaluated under Pulumi's mock runtime from `stacks/Pulumi." + ev.stack + ".yaml` (no CLI, credentials or cluster).",
    `Secret values are shown as \`${REDACTED}\` (\`${REDACTED_B64}\` where the schema wants base64).`,
  ];
  if (ev.placeholders.length > 0) {
    lines.push(`Placeholder values stood in for secrets only \`pulumi config set --secret\` can set: ${ev.placeholders.map((k) => `\`${k}\``).join(", ")}.`);
  }
  lines.push("", `## Resources by type (${ev.created.length})`, "",
    table([...s.byType.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => [`\`${t}\``, String(n)]), ["type", "count"]),
    "", `Kubernetes objects rendered: ${s.objects}; chart releases: ${s.charts.length}.`);
  if (s.unrendered.length > 0) lines.push(`Not rendered (the engine expands them): ${s.unrendered.map((c) => `\`${c.type}\` ${c.name}`).join(", ")}.`);
  lines.push("", "## Charts", "");
  lines.push(s.charts.length === 0 ? "None." : table(s.charts.map((c) => {
    const i = c.inputs;
    return [`${c.name}`, `\`${i.chart}\` ${i.version ?? "(unpinned!)"} from ${i.repositoryOpts?.repo ?? "-"} into \`${i.namespace ?? "default"}\``];
  }), ["release", "chart"]));
  lines.push("", "## Resource budget", "", ev.outputs.budget === undefined ? "No `budget` output." : table(flatten(ev.outputs.budget), ["item", "value"]));
  lines.push("", "## URLs", "", ev.outputs.urls === undefined ? "No `urls` output." : table(flatten(ev.outputs.urls), ["name", "url"]));
  lines.push("", "## Post-mortem checks", "", "Post-mortems with at least one test named after them (`it(\"PM-XX …\")`):", "",
    table([...s.tested.entries()].map(([id, files]) => [id, files.join(", ")]), ["PM", "tests"]));
  const missing = Array.from({ length: 40 }, (_, i) => `PM-${String(i + 1).padStart(2, "0")}`).filter((id) => !s.tested.has(id));
  lines.push("", missing.length === 0 ? "Every PM-01..PM-40 has a test." : `Without a test yet: ${missing.join(", ")}.`, "");
  return lines.join("\n");
}

/** Replaces out/<stack>/ with the rendered files. */
export function writeRendered(dir: string, rendered: RenderedStack): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [rel, content] of rendered.files) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** Evaluates and writes each stack; returns the render time per stack in ms. */
export async function renderStacks(stacks: readonly string[], outDir: string, load?: ProgramLoader): Promise<Map<string, { ms: number; rendered: RenderedStack }>> {
  const tested = testedPmIds();
  const out = new Map<string, { ms: number; rendered: RenderedStack }>();
  for (const stack of stacks) {
    const started = performance.now();
    const rendered = renderStack(await evaluateStack(stack, load), tested);
    writeRendered(path.join(outDir, stack), rendered);
    out.set(stack, { ms: performance.now() - started, rendered });
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  const unknown = args.filter((a) => !(STACKS as readonly string[]).includes(a));
  if (unknown.length > 0) throw new Error(`unknown stack ${unknown.join(", ")}; one of ${STACKS.join(", ")}`);
  const stacks = args.length > 0 ? args : [...STACKS];
  const outDir = path.join(ROOT, "out");
  let invalid = 0;
  for (const [stack, r] of await renderStacks(stacks, outDir)) {
    console.log(`${stack}: ${r.rendered.objects.length} objects, ${r.rendered.files.size} files in out/${stack}/ (${Math.round(r.ms)} ms)`);
    for (const { file, object } of r.rendered.objects) {
      const error = schemaError(object);
      if (error) { invalid++; console.error(`  schema error in out/${stack}/${file}: ${error}`); }
    }
  }
  if (invalid > 0) throw new Error(`${invalid} rendered object(s) do not match their upstream schema`);
}

if (require.main === module) {
  main().then(() => process.exit(0), (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
