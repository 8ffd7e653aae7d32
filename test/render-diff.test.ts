// The render diff a pull request gets as a comment: small fixture renders (through the real
// renderer, written to disk and read back), compared object by object, chart by chart, budget by
// budget; the Markdown is deterministic, bounded and never shows a secret.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import type { Evaluation } from "../scripts/evaluate";
import { renderStack, writeRendered } from "../scripts/render";
import { diffRenders, diffStack, diffValues, loadRenders, objectKey, parseArgs, parseRenderFiles } from "../scripts/render-diff";
import { COMMENT_LIMIT, MARKER, formatDiff, unifiedDiff } from "../scripts/render-diff-format";
import { markerLine } from "../scripts/pr-comment";
import type { Created } from "./helpers/mocks";

/** The render as a base without render.json reads it: from its YAML files. */
function parseRenderFilesOf(dir: string) {
  const files = new Map<string, string>();
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) if (fs.statSync(path.join(dir, f)).isFile()) files.set(f.split(path.sep).join("/"), fs.readFileSync(path.join(dir, f), "utf8"));
  return parseRenderFiles("homelab", files);
}

const SIG = "4dabf18193072939515e22adb298388d";
const secret = (value: unknown) => ({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value });
const created = (type: string, name: string, inputs: Record<string, any>): Created => ({ type, name, inputs });

const container = (image: string, memory = "128Mi") => ({
  name: "api", image, resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory } },
  env: [{ name: "DB_PASSWORD", value: secret("hunter2") }],
});
const deployment = (image: string, memory?: string) => created("kubernetes:apps/v1:Deployment", "api", {
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "apps" },
  spec: { selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } }, spec: { containers: [container(image, memory), { name: "proxy", image: "envoy:1" }] } } },
});
const configMap = (script: string) => created("kubernetes:core/v1:ConfigMap", "script", {
  apiVersion: "v1", kind: "ConfigMap", metadata: { name: "script", namespace: "apps" }, data: { "run.sh": script },
});
const dbSecret = (password: string) => created("kubernetes:core/v1:Secret", "db", {
  apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "apps" }, data: { password: secret(Buffer.from(password).toString("base64")) },
});
const namespace = (name: string) => created("kubernetes:core/v1:Namespace", name, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
const chart = (version: string, replicas: number, adminHash: string) => created("kubernetes:helm.sh/v4:Chart", "argocd", {
  chart: "argo-cd", version, namespace: "argocd", repositoryOpts: { repo: "https://argoproj.github.io/argo-helm" },
  values: { server: { replicas }, configs: { secret: { argocdServerAdminPassword: secret(adminHash) } } },
});
const budget = (cpu: number, mem: number, limit: number, free: number) => ({
  capacity: { cpuMillis: 3800, memoryMi: 12288, description: "1 node" }, requests: { cpuMillis: cpu, memoryMi: mem }, limits: { memoryMi: limit }, freeMemoryPercent: free,
});
const evaluation = (stack: string, resources: Created[], b = budget(1000, 2048, 4096, 83)): Evaluation =>
  ({ stack, created: resources, outputs: { budget: b }, placeholders: [], ms: 0 });

const SCRIPT = "#!/bin/sh\nset -eu\necho one\necho two\necho three\necho four\n";
const baseStack = [namespace("apps"), namespace("old"), deployment("app:1.0.0"), configMap(SCRIPT), dbSecret("hunter2"), chart("10.1.1", 1, "$2a$10$base")];
const headStack = [namespace("apps"), namespace("new"), deployment("app:1.1.0", "256Mi"), configMap(SCRIPT.replace("echo two", "echo 2")), dbSecret("hunter3"), chart("10.2.0", 2, "$2a$10$head")];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "render-diff-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Renders fixture stacks with the real renderer into <tmp>/<side>/<stack>/ and reads them back. */
function renderSide(side: string, stacks: Evaluation[]) {
  for (const ev of stacks) writeRendered(path.join(tmp, side, ev.stack), renderStack(ev, new Map()));
  return loadRenders(path.join(tmp, side));
}

const base = renderSide("base", [evaluation("homelab", baseStack), evaluation("dev", [namespace("apps")], budget(500, 1024, 2048, 83))]);
const head = renderSide("head", [evaluation("homelab", headStack, budget(1050, 2240, 4224, 82)), evaluation("dev", [namespace("apps")], budget(500, 1024, 2048, 83))]);
const diffs = diffRenders(base, head);
const homelab = diffs.find((d) => d.stack === "homelab")!;
const markdown = formatDiff(diffs, { baseLabel: "abc123 (merge base)", headLabel: "def456" });

describe("render diff: what changed", () => {
  it("objects are known by group, kind, namespace and name; added, removed, changed and unchanged", () => {
    expect(objectKey("kubernetes:apps/v1:Deployment", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "apps" } })).toBe("apps/Deployment apps/api");
    expect(objectKey("kubernetes:core/v1:Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } })).toBe("Namespace apps");
    expect(objectKey("kubernetes:apps/v1:DeploymentPatch", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x", namespace: "n" } })).toBe("apps/Deployment n/x (patch)");
    expect(homelab.added).toEqual(["Namespace new"]);
    expect(homelab.removed).toEqual(["Namespace old"]);
    expect(homelab.changed.map((c) => c.key)).toEqual(["ConfigMap apps/script", "Secret apps/db", "apps/Deployment apps/api"]);
    expect(homelab.unchanged).toBe(1);
    const dev = diffs.find((d) => d.stack === "dev")!;
    expect([dev.added, dev.removed, dev.changed, dev.charts]).toEqual([[], [], [], []]);
  });

  it("field paths key list items by name: only the fields that differ", () => {
    const dep = homelab.changed.find((c) => c.key.startsWith("apps/Deployment"))!;
    expect(dep.changes.map((c) => c.path)).toEqual([
      "spec.template.spec.containers[api].image", "spec.template.spec.containers[api].resources.limits.memory",
    ]);
    expect(dep.changes[0]).toEqual({ path: "spec.template.spec.containers[api].image", before: "app:1.0.0", after: "app:1.1.0" });
    expect(diffValues({ a: { "x.y/z": 1 } }, { a: { "x.y/z": 2 } })).toEqual([{ path: 'a["x.y/z"]', before: 1, after: 2 }]);
    expect(diffValues({ args: ["a", "b"] }, { args: ["a", "c", "b"] })).toEqual([{ path: "args", before: ["a", "b"], after: ["a", "c", "b"] }]);
    expect(diffValues({ k: 1 }, { k: 1, n: 2 })).toEqual([{ path: "n", after: 2 }]);
  });

  it("chart releases whose version or values changed, with a values diff", () => {
    expect(homelab.charts.map((c) => c.name)).toEqual(["argocd"]);
    expect(homelab.charts[0].changes.map((c) => c.path)).toEqual(["values.configs.secret.argocdServerAdminPassword", "values.server.replicas", "version"]);
    expect(markdown).toContain("<code>argocd</code> (argo-cd 10.1.1 → argo-cd 10.2.0): 3 fields");
    expect(markdown).toMatch(/@@ values\.server\.replicas\n- 1\n\+ 2/);
  });

  it("a secret that changed says so without showing either value", () => {
    expect(markdown).toContain("@@ data.password (secret value changed)\n- \"[secret]\"\n+ \"[secret]\"");
    expect(markdown).toContain("@@ values.configs.secret.argocdServerAdminPassword (secret value changed)");
  });

  it("no secret value and no digest ever reaches the comment", () => {
    for (const leak of ["hunter2", "hunter3", Buffer.from("hunter2").toString("base64"), Buffer.from("hunter3").toString("base64"), "$2a$10$base", "$2a$10$head"]) {
      expect(markdown).not.toContain(leak);
    }
    expect(markdown).not.toMatch(/\[secret:[0-9a-f]+\]/);
    // Reintroduce the defect: the digests are in render.json, so printing it raw would leak them.
    expect(fs.readFileSync(path.join(tmp, "head", "homelab", "render.json"), "utf8")).toMatch(/\[secret:[0-9a-f]{16}\]/);
  });

  it("a Secret's values stay hidden even where a component forgot pulumi.secret; a change still shows", () => {
    const plain = (v: string) => created("kubernetes:core/v1:Secret", "leaky", {
      apiVersion: "v1", kind: "Secret", metadata: { name: "leaky", namespace: "apps" }, stringData: { token: v }, data: { raw: Buffer.from(v).toString("base64") },
    });
    const b = renderSide("leaky-base", [evaluation("homelab", [plain("letmein-1")])]);
    const h = renderSide("leaky-head", [evaluation("homelab", [plain("letmein-2")])]);
    const out = formatDiff(diffRenders(b, h));
    expect(out).toContain("@@ stringData.token (secret value changed)");
    expect(out).toContain("@@ data.raw (secret value changed)");
    expect(out).not.toMatch(/letmein|bGV0bWVpb/);
  });

  it("multi-line values get a line diff with context", () => {
    expect(unifiedDiff("a\nb\nc\nd\ne\nf\ng\nh\ni", "a\nb\nc\nd\nE\nf\ng\nh\ni", 1)).toEqual(["  …", "  d", "- e", "+ E", "  f", "  …"]);
    expect(markdown).toContain("@@ data[\"run.sh\"]\n  #!/bin/sh\n  set -eu\n  echo one\n- echo two\n+ echo 2\n  echo three\n  echo four");
  });

  it("the budget before and after, with the change", () => {
    expect(markdown).toContain("| `homelab` | +1 −1 ~3 (1 same) | ~1 | 3800m / 12288 Mi | 1000m / 2048 Mi → 1050m / 2240 Mi (+50m / +192 Mi) | 4096 Mi → 4224 Mi (+128 Mi) | 83 % → 82 % (−1 pt) |");
    expect(markdown).toContain("| `dev` | no change (1) | – | 3800m / 12288 Mi | 500m / 1024 Mi | 2048 Mi | 83 % |");
  });

  it("is deterministic: the same renders in any registration order give the same bytes", () => {
    const shuffled = renderSide("shuffled", [evaluation("homelab", [...headStack].reverse(), budget(1050, 2240, 4224, 82)), evaluation("dev", [namespace("apps")], budget(500, 1024, 2048, 83))]);
    expect(formatDiff(diffRenders(base, shuffled), { baseLabel: "abc123 (merge base)", headLabel: "def456" })).toBe(markdown);
    expect(markdown.startsWith(`${MARKER}\n`)).toBe(true);
    expect(MARKER).toBe(markerLine("render-diff"));
  });

  it("identical renders say so", () => {
    const out = formatDiff(diffRenders(base, base));
    expect(out).toContain("No Kubernetes object or chart release changes in any stack.");
    expect(out).not.toContain("####");
  });
});

describe("render diff: edge cases", () => {
  it("a base that predates render.json is read from its YAML files, without spurious secret changes", () => {
    for (const f of ["render.json"]) fs.rmSync(path.join(tmp, "base", "homelab", f));
    const legacy = loadRenders(path.join(tmp, "base")).get("homelab")!;
    expect(legacy.source).toBe("yaml");
    expect(legacy.budget).toBeUndefined();
    const d = diffStack("homelab", legacy, head.get("homelab"));
    expect(d.changed.map((c) => c.key)).toEqual(["ConfigMap apps/script", "apps/Deployment apps/api"]);
    expect(formatDiff([d])).toContain("| n/a → 82 %");
    writeRendered(path.join(tmp, "base", "homelab"), renderStack(evaluation("homelab", baseStack), new Map()));
  });

  it("an object two resources declare is flagged when the pull request introduces it", () => {
    const twice = renderSide("twice", [evaluation("homelab", [...headStack, { ...namespace("new"), name: "new-again" }], budget(1050, 2240, 4224, 82))]);
    const d = diffStack("homelab", base.get("homelab"), twice.get("homelab"));
    expect(d.duplicates).toEqual(["Namespace new"]);
    expect(d.added).toEqual(["Namespace new [new-again]", "Namespace new [new]"]);
    expect(formatDiff([d])).toContain("New here: declared by more than one resource");
    expect(diffStack("homelab", twice.get("homelab"), twice.get("homelab")).duplicates).toEqual([]);
  });

  it("two resources with one URN pair up by content, whatever order the render or its files list them in", () => {
    const policy = (dir: string) => created("kubernetes:networking.k8s.io/v1:NetworkPolicy", "np-allow", {
      apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "allow", namespace: "apps" }, spec: { podSelector: {}, policyTypes: [dir] },
    });
    const dup = renderSide("dup", [evaluation("homelab", [policy("Ingress"), policy("Egress")])]).get("homelab")!;
    const yamlOnly = parseRenderFilesOf(path.join(tmp, "dup", "homelab"));
    const reversed = { ...dup, objects: [...dup.objects].reverse() };
    for (const other of [yamlOnly, reversed]) expect(diffStack("homelab", other, dup).changed).toEqual([]);
    expect(diffStack("homelab", dup, dup).unchanged).toBe(2);
  });

  it("a side that did not render is named with the end of its log; a new stack lists its objects", () => {
    const out = formatDiff(diffRenders(new Map(), head), { baseError: "Error: unknown script render\n" });
    expect(out).toContain("The base did not render");
    expect(out).toContain("Error: unknown script render");
    expect(out).not.toContain("**Added**");
    const failed = formatDiff(diffRenders(base, new Map([["dev", head.get("dev")!]])), { headError: "schema error in out/homelab/x.yaml\n" });
    expect(failed).toContain("The head did not render");
    expect(failed).toContain("Not rendered at the head (the render failed).");
    const fresh = formatDiff([diffStack("homelab", undefined, head.get("homelab"))]);
    expect(fresh).toContain("#### `homelab` (new stack)");
    expect(fresh).toContain("- `apps/Deployment apps/api`");
  });

  it("names cannot break out of their code spans, blocks or summaries", () => {
    const evil = created("kubernetes:core/v1:ConfigMap", "evil", {
      apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x`</code></summary><img src=x>\n# heading", namespace: "apps" }, data: { k: "```\nnot code\n```" },
    });
    const evilHead = renderSide("evil", [evaluation("homelab", [...headStack, evil])]);
    const withEvil = renderSide("evil-base", [evaluation("homelab", [...headStack, { ...evil, inputs: { ...evil.inputs, data: { k: "plain" } } }])]);
    const out = formatDiff(diffRenders(withEvil, evilHead));
    expect(out).not.toContain("<img");
    expect(out).not.toMatch(/^# heading/m);
    expect(out).toContain("````diff");
  });
});

describe("render diff: size bound", () => {
  // A big pull request: 60 ConfigMaps, each with a 400-line script changed throughout.
  const big = (v: string) => Array.from({ length: 60 }, (_, i) => created("kubernetes:core/v1:ConfigMap", `cm-${i}`, {
    apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${String(i).padStart(2, "0")}`, namespace: "apps" },
    data: { "run.sh": Array.from({ length: 400 }, (_, l) => `echo ${v} line ${l} ${"x".repeat(40)}`).join("\n") },
  }));
  const b = renderSide("big-base", [evaluation("oci", big("old"))]);
  const h = renderSide("big-head", [evaluation("oci", big("new"))]);

  it("stays under the GitHub comment limit, says it was cut, and keeps every changed object's name", () => {
    const out = formatDiff(diffRenders(b, h));
    expect(out.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(COMMENT_LIMIT).toBeLessThanOrEqual(65_536);
    expect(out).toContain("Truncated to stay under the comment limit");
    for (let i = 0; i < 60; i++) expect(out).toContain(`ConfigMap apps/cm-${String(i).padStart(2, "0")}`);
    expect(out).toMatch(/… \d+ more lines \(see the job log\)/);
    expect(out).toContain("(diff left out)");
  });

  it("holds for any limit, and a diff that fits is not cut", () => {
    for (const max of [3000, 10_000, 40_000]) {
      const out = formatDiff(diffRenders(b, h), { maxChars: max });
      expect(out.length, String(max)).toBeLessThanOrEqual(max);
      expect(out).toContain("| `oci` |");
      // Whole sections give way, ending on the note; not a cut in the middle of one.
      expect(out.trimEnd().endsWith("(`npm run render:diff` locally)."), String(max)).toBe(true);
      expect(out).not.toContain("cut at the comment limit");
    }
    expect(markdown).not.toContain("Truncated");
  });
});

describe("render diff: command line", () => {
  it("rejects what it does not understand, naming it", () => {
    expect(() => parseArgs(["a"])).toThrow(/usage: render-diff/);
    expect(() => parseArgs(["a", "b", "--bogus", "1"])).toThrow(/unknown option --bogus/);
    expect(() => parseArgs(["a", "b", "--max-chars", "ten"])).toThrow(/--max-chars must be an integer/);
    expect(parseArgs(["--", "a", "b", "--max-chars", "5000"]).options.maxChars).toBe(5000);
  });

  it("npm run render:diff writes the comment for two out/ directories", () => {
    const out = path.join(tmp, "comment.md");
    const r = spawnSync("npx", ["tsx", "scripts/render-diff.ts", path.join(tmp, "base"), path.join(tmp, "head"), "--out", out, "--base-label", "abc123 (merge base)", "--head-label", "def456"],
      { cwd: path.resolve(__dirname, ".."), encoding: "utf8", timeout: 60_000 });
    expect(r.stderr + r.stdout).toBe("");
    expect(r.status).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toBe(formatDiff(diffRenders(loadRenders(path.join(tmp, "base")), loadRenders(path.join(tmp, "head"))), { baseLabel: "abc123 (merge base)", headLabel: "def456" }));
  }, 60_000);
});
