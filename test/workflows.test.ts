// The CI and PR-preview workflows (GitHub and Gitea): valid YAML, the structure the runners need,
// pinned actions, the three stacks, skip-on-missing-secret, and shellcheck-clean run scripts.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const FILES = {
  githubCi: ".github/workflows/ci.yml",
  githubPreview: ".github/workflows/preview.yml",
  giteaCi: ".gitea/workflows/ci.yaml",
  giteaPreview: ".gitea/workflows/preview.yaml",
};

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; if?: string; id?: string; env?: Record<string, string> };
type Job = { "runs-on": string; steps: Step[]; needs?: string; strategy?: { matrix: Record<string, unknown> }; env?: Record<string, string> };
type Workflow = { name: string; on: Record<string, unknown>; jobs: Record<string, Job> };

function load(rel: string): Workflow {
  const doc = YAML.parseDocument(fs.readFileSync(path.join(ROOT, rel), "utf8"), { strict: true, uniqueKeys: true });
  expect(doc.errors, rel).toEqual([]);
  return doc.toJS() as Workflow;
}

const all = Object.values(FILES).map((f) => [f, load(f)] as const);
const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps);

describe("workflows", () => {
  it("each has a name, triggers and jobs whose steps either use an action or run a command", () => {
    for (const [file, wf] of all) {
      expect(wf.name, file).toBeTruthy();
      expect(Object.keys(wf.on ?? {}).length, file).toBeGreaterThan(0);
      for (const [id, job] of Object.entries(wf.jobs)) {
        expect(job["runs-on"], `${file} ${id}`).toBeTruthy();
        expect(job.steps.length, `${file} ${id}`).toBeGreaterThan(0);
        for (const s of job.steps) expect(Boolean(s.uses) !== Boolean(s.run), `${file} ${id}: ${JSON.stringify(s)}`).toBe(true);
        if (job.needs) expect(Object.keys(wf.jobs), file).toContain(job.needs);
      }
    }
  });

  it("every action is pinned to a commit sha or a version tag, never a branch or latest", () => {
    for (const [file, wf] of all) {
      for (const s of steps(wf).filter((x) => x.uses)) {
        expect(s.uses, file).toMatch(/^[\w.-]+\/[\w.-]+@([0-9a-f]{40}|v\d+(\.\d+){0,2})$/);
      }
      expect(fs.readFileSync(path.join(ROOT, file), "utf8"), file).not.toMatch(/@(main|master|latest)\b|:latest\b/);
    }
  });

  it("CI runs .ci/run on Node 20 on push and pull requests", () => {
    for (const file of [FILES.githubCi, FILES.giteaCi]) {
      const wf = load(file);
      expect(Object.keys(wf.on).sort(), file).toEqual(["pull_request", "push"]);
      const s = steps(wf);
      expect(s[0].uses, file).toMatch(/^actions\/checkout@/);
      expect(s.find((x) => x.uses?.startsWith("actions/setup-node@"))?.with?.["node-version"], file).toBe("20");
      expect(s.at(-1)?.run, file).toBe("bash .ci/run");
    }
  });

  it("previews run tests and the render, then a preview per stack (oci, dev, homelab)", () => {
    for (const file of [FILES.githubPreview, FILES.giteaPreview]) {
      const wf = load(file);
      expect(Object.keys(wf.on), file).toEqual(["pull_request"]);
      const runs = wf.jobs.render.steps.map((x) => x.run);
      expect(runs, file).toEqual(expect.arrayContaining(["npm test", "npm run render"]));
      const preview = wf.jobs.preview;
      expect(preview.needs, file).toBe("render");
      expect(preview.strategy?.matrix.stack, file).toEqual(["oci", "dev", "homelab"]);
      expect(preview.env?.PULUMI_ACCESS_TOKEN, file).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
      // The first step decides; everything after it is skipped without credentials.
      const [check, ...rest] = preview.steps;
      expect(check.id, file).toBe("creds");
      expect(check.run, file).toContain('echo "ready=false" >> "$GITHUB_OUTPUT"');
      expect(check.run, file).toMatch(/::notice.*skipped/);
      for (const s of rest) expect(s.if, `${file}: ${JSON.stringify(s)}`).toContain("steps.creds.outputs.ready == 'true'");
    }
  });

  it("GitHub comments the diff through pulumi/actions", () => {
    const step = load(FILES.githubPreview).jobs.preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(step.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", diff: true, "comment-on-pr": true });
  });

  it("Gitea comments the diff through the Gitea API", () => {
    const wf = load(FILES.giteaPreview);
    const s = wf.jobs.preview.steps;
    expect(s.find((x) => x.id === "preview")?.run).toMatch(/pulumi preview --diff .*--stack "\$STACK"/);
    const comment = s.at(-1)!;
    expect(comment.env?.API).toMatch(/\/api\/v1\/repos\/\$\{\{ github\.repository \}\}\/issues\/\$\{\{ github\.event\.pull_request\.number \}\}\/comments$/);
    expect(comment.run).toMatch(/curl -fsS -X POST "\$API"/);
    expect(comment.run).toContain('Authorization: token $GITEA_TOKEN');
    expect(wf.jobs.preview.env?.GITEA_TOKEN).toMatch(/^\$\{\{ secrets\.\w+ \}\}$/);
  });

  it("run scripts take expressions through env, never inline, and pass shellcheck", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wf-"));
    try {
      let n = 0;
      for (const [file, wf] of all) {
        for (const s of steps(wf).filter((x) => x.run)) {
          expect(s.run, file).not.toContain("${{");
          const script = path.join(dir, `${n++}.sh`);
          fs.writeFileSync(script, `#!/usr/bin/env bash\n${s.run}`);
        }
      }
      const scripts = fs.readdirSync(dir).map((f) => path.join(dir, f));
      execFileSync("shellcheck", ["-S", "warning", ...scripts], { encoding: "utf8" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
