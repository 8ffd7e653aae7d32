// The CI and PR-preview workflows (GitHub and Gitea): valid against the workflow schema, the
// structure the runners need, actions pinned by commit, the credential-free render diff on every
// pull request, the optional live preview's skip path, PM-24 on Gitea, shellcheck-clean scripts.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { validateWorkflow } from "@action-validator/core";
import { afterAll, describe, expect, it } from "vitest";
import { runnerLabels } from "../components/gitops/runner-config";
import { images } from "../components/lib/versions";
import { needs } from "./helpers/binaries";

const ROOT = path.resolve(__dirname, "..");
const FILES = {
  githubCi: ".github/workflows/ci.yml",
  githubPreview: ".github/workflows/preview.yml",
  giteaCi: ".gitea/workflows/ci.yaml",
  giteaPreview: ".gitea/workflows/preview.yaml",
};
const PREVIEWS = [FILES.githubPreview, FILES.giteaPreview];

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; if?: string; id?: string; env?: Record<string, string> };
type Job = { "runs-on": string; steps: Step[]; needs?: string; permissions?: Record<string, string>; strategy?: { matrix: Record<string, unknown> }; env?: Record<string, string> };
type Workflow = { name: string; on: Record<string, unknown>; permissions?: Record<string, string>; jobs: Record<string, Job> };

const text = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");
function load(rel: string): Workflow {
  const doc = YAML.parseDocument(text(rel), { strict: true, uniqueKeys: true });
  expect(doc.errors, rel).toEqual([]);
  return doc.toJS() as Workflow;
}

const all = Object.values(FILES).map((f) => [f, load(f)] as const);
const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wf-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Schema errors as "path: title (detail)"; [] when valid. */
function schemaErrors(source: string): string[] {
  const flat = (errors: any[]): string[] => errors.flatMap((e) => [
    `${e.path ?? e.location?.line ?? ""}: ${e.title}${e.detail ? ` (${e.detail})` : ""}`, ...(e.states ?? []).flatMap((s: any) => flat(s.errors)),
  ]);
  return flat(validateWorkflow(source).errors);
}

describe("workflows", () => {
  it("match the GitHub workflow schema (@action-validator/core, offline), and a broken one does not", () => {
    for (const [file] of all) expect(schemaErrors(text(file)), file).toEqual([]);
    const broken = text(FILES.githubPreview).replace("pull-requests: write", "pull-request: write").replace("runs-on: ubuntu-24.04\n    timeout-minutes: 20", "timeout-minutes: 20");
    expect(schemaErrors(broken).join("\n")).toMatch(/Additional property 'pull-request' is not allowed/);
    expect(schemaErrors(broken).join("\n")).toMatch(/runs-on/);
  });

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

  it("every action is pinned to a full commit sha, with the version it is in a comment", () => {
    for (const [file, wf] of all) {
      for (const s of steps(wf).filter((x) => x.uses)) expect(s.uses, file).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      for (const line of text(file).split("\n").filter((l) => /^\s*(- )?uses:/.test(l))) expect(line, file).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      expect(text(file), file).not.toMatch(/@(main|master|latest)\b|:latest\b/);
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

  it("npm test runs only through .ci/run: runners set CI=true, and a missing Debian binary then fails the tests", () => {
    for (const [file, wf] of all) {
      for (const s of steps(wf).filter((x) => x.run)) expect(s.run, file).not.toMatch(/\bnpm (run )?test\b/);
    }
  });

  const shellcheck = needs("shellcheck");
  shellcheck.it("run scripts take expressions through env, never inline, and pass shellcheck", () => {
    let n = 0;
    for (const [file, wf] of all) {
      for (const s of steps(wf).filter((x) => x.run)) {
        expect(s.run, file).not.toContain("${{");
        fs.writeFileSync(path.join(tmp, `run-${n++}.sh`), `#!/usr/bin/env bash\n${s.run}`);
      }
    }
    const scripts = fs.readdirSync(tmp).filter((f) => f.startsWith("run-")).map((f) => path.join(tmp, f));
    execFileSync(shellcheck.bin("shellcheck"), ["-S", "warning", ...scripts], { encoding: "utf8" });
  });
});

describe("PR review: the render diff, for every pull request, without credentials", () => {
  it("runs on pull_request only, renders base and head with the script, and comments with the job's token", () => {
    for (const file of PREVIEWS) {
      const wf = load(file);
      expect(Object.keys(wf.on), file).toEqual(["pull_request"]);
      const job = wf.jobs["render-diff"];
      const [diff, comment] = job.steps.slice(-2);
      expect(diff.run, file).toBe("bash scripts/render-diff-pr.sh");
      expect(diff.env?.BASE_REV, file).toMatch(/github\.event\.pull_request\.base\.(sha|ref)/);
      // The comment is posted whenever the diff was written, also when the head did not render.
      expect(comment.if, file).toBe("always() && hashFiles('render-diff.md') != ''");
      expect(comment.run, file).toBe("node_modules/.bin/tsx scripts/pr-comment.ts render-diff.md --marker render-diff");
      expect(comment.env, file).toMatchObject({ TOKEN: "${{ github.token }}", REPOSITORY: "${{ github.repository }}", PR_NUMBER: "${{ github.event.pull_request.number }}" });
      expect(comment.env?.FORGE, file).toBe(file.startsWith(".github") ? "github" : "gitea");
      const perms = { ...wf.permissions, ...job.permissions };
      expect(perms["pull-requests"], file).toBe("write");
      expect(perms.contents, file).toBe("read");
    }
  });

  it("the diff job references no secret and no variable: nothing to configure, nothing to leak", () => {
    for (const file of PREVIEWS) {
      const job = JSON.stringify(load(file).jobs["render-diff"]);
      expect(job, file).not.toMatch(/secrets\.|vars\.|PULUMI_|TF_VAR_|OCI_/);
    }
    // GitHub: the head with the whole history (the merge base is rendered from it), no stored token.
    const checkout = load(FILES.githubPreview).jobs["render-diff"].steps[0];
    expect(checkout.with).toEqual({ ref: "${{ github.event.pull_request.head.sha }}", "fetch-depth": 0, "persist-credentials": false });
  });

  it("Gitea runs on the platform's own runner as shipped: its label, its job image, no shellcheck needed", () => {
    const names = runnerLabels(images.runnerJob).map((l) => l.split(":")[0]);
    for (const [file, wf] of all.filter(([f]) => f.startsWith(".gitea"))) {
      for (const [id, job] of Object.entries(wf.jobs)) expect(names, `${file} ${id}`).toContain(job["runs-on"]);
    }
    expect(images.runnerJob).toMatch(/^docker\.io\/library\/node:24\.[\d.]+-bookworm@sha256:[0-9a-f]{64}$/);
    // The job image has git, node and npm, but no shellcheck: the preview jobs run neither it nor the tests.
    for (const s of steps(load(FILES.giteaPreview))) expect(s.run ?? "", s.name).not.toMatch(/shellcheck|npm test|\.ci\/run/);
    for (const f of ["scripts/render-diff-pr.sh", "scripts/preview-gate.sh"]) expect(text(f), f).not.toMatch(/shellcheck/);
  });

  it("PM-24 Gitea jobs reach Gitea through the runner URL, never server_url or actions/checkout", () => {
    const wf = load(FILES.giteaPreview);
    // Parsed, so comments do not count.
    expect(JSON.stringify(wf)).not.toMatch(/server_url|server-url|GITHUB_SERVER_URL|GITEA_SERVER_URL/);
    expect(steps(wf).filter((s) => s.uses?.startsWith("actions/checkout@"))).toEqual([]);
    const checkouts = Object.values(wf.jobs).map((j) => j.steps[0]);
    for (const c of checkouts) {
      expect(c).toEqual(checkouts[0]);
      expect(c.run).toContain('url="${ACTIONS_RESULTS_URL:?');
      expect(c.env?.TOKEN).toBe("${{ github.token }}");
    }
    expect(fs.readFileSync(path.join(ROOT, "scripts/pr-comment.ts"), "utf8")).toMatch(/env\.ACTIONS_RESULTS_URL/);
  });

  needs("git").it("PM-24 the Gitea checkout fetches the head and the base branch from the runner URL, and checks out the head", () => {
    const g = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" }).trim();
    // A "Gitea" at file://<tmp>/forge serving o/r.git with a pull request ref, as Gitea keeps one.
    const src = path.join(tmp, "src");
    fs.mkdirSync(src);
    g(src, "init", "-q");
    fs.writeFileSync(path.join(src, "f"), "base\n");
    g(src, "add", "f"); g(src, "commit", "-qm", "base");
    const base = g(src, "rev-parse", "HEAD");
    fs.writeFileSync(path.join(src, "f"), "head\n");
    g(src, "commit", "-qam", "head");
    const head = g(src, "rev-parse", "HEAD");
    g(src, "update-ref", "refs/pull/7/head", head);
    g(src, "reset", "-q", "--hard", base);
    fs.mkdirSync(path.join(tmp, "forge", "o"), { recursive: true });
    g(tmp, "clone", "-q", "--mirror", src, path.join(tmp, "forge", "o", "r.git"));
    const job = path.join(tmp, "job");
    fs.mkdirSync(job);
    const step = load(FILES.giteaPreview).jobs["render-diff"].steps[0];
    const r = spawnSync("bash", ["-c", step.run!], {
      cwd: job, encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: tmp, ACTIONS_RESULTS_URL: `file://${path.join(tmp, "forge")}/`, TOKEN: "job-token", REPOSITORY: "o/r", PR_NUMBER: "7", BASE_REF: "main", HEAD_SHA: head },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(g(job, "rev-parse", "HEAD")).toBe(head);
    expect(g(job, "merge-base", "origin/main", "HEAD")).toBe(base);
    // No credential stays behind in the checkout.
    expect(fs.readFileSync(path.join(job, ".git", "config"), "utf8")).not.toMatch(/extraheader|job-token/i);
    const noUrl = spawnSync("bash", ["-c", step.run!], { cwd: job, encoding: "utf8", env: { PATH: process.env.PATH, TOKEN: "t", REPOSITORY: "o/r", PR_NUMBER: "7", BASE_REF: "main", HEAD_SHA: head } });
    expect(noUrl.status).not.toBe(0);
    expect(noUrl.stderr).toMatch(/ACTIONS_RESULTS_URL: act_runner sets it/);
  });
});

describe("PR review: the optional live preview", () => {
  function gate(env: Record<string, string>) {
    const out = path.join(tmp, `gate-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(out, "");
    const r = spawnSync("bash", [path.join(ROOT, "scripts/preview-gate.sh")], { encoding: "utf8", env: { PATH: process.env.PATH, GITHUB_OUTPUT: out, ...env } });
    expect(r.status, r.stderr).toBe(0);
    return { stdout: r.stdout, output: fs.readFileSync(out, "utf8") };
  }
  const OCI = { TF_VAR_tenancy_ocid: "t", TF_VAR_user_ocid: "u", TF_VAR_fingerprint: "f", TF_VAR_private_key: "k", TF_VAR_region: "r" };

  it("each preview job needs the diff, runs the gate right after checkout, and every later step depends on it", () => {
    for (const file of PREVIEWS) {
      const preview = load(file).jobs.preview;
      expect(preview.needs, file).toBe("render-diff");
      expect(preview.strategy?.matrix.stack, file).toEqual(["oci", "dev", "homelab"]);
      expect(preview.env?.PREVIEW_STACKS, file).toBe("${{ vars.PREVIEW_STACKS }}");
      expect(preview.env?.PULUMI_ACCESS_TOKEN, file).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
      const i = preview.steps.findIndex((s) => s.id === "gate");
      expect(i, file).toBe(1);
      expect(preview.steps[i].run, file).toBe("bash scripts/preview-gate.sh");
      expect(preview.steps[i].env?.STACK, file).toBe("${{ matrix.stack }}");
      for (const s of preview.steps.slice(i + 1)) expect(s.if, `${file}: ${JSON.stringify(s)}`).toMatch(/^(always\(\) && )?steps\.gate\.outputs\.ready == 'true'$/);
    }
  });

  it("skips with a notice when the stack is not in PREVIEW_STACKS (unset by default)", () => {
    const r = gate({ STACK: "dev", PULUMI_ACCESS_TOKEN: "p" });
    expect(r.output).toBe("ready=false\n");
    expect(r.stdout).toMatch(/^::notice title=preview skipped::stack dev skipped: not in the repository variable PREVIEW_STACKS/);
    expect(gate({ STACK: "dev", PREVIEW_STACKS: "homelab, oci", PULUMI_ACCESS_TOKEN: "p" }).output).toBe("ready=false\n");
  });

  it("skips with a notice naming each missing secret; oci needs its OCI credentials too", () => {
    const r = gate({ STACK: "oci", PREVIEW_STACKS: "oci", PULUMI_ACCESS_TOKEN: "p", TF_VAR_region: "r" });
    expect(r.output).toBe("ready=false\n");
    expect(r.stdout).toContain("repository secret(s) not set: TF_VAR_tenancy_ocid TF_VAR_user_ocid TF_VAR_fingerprint TF_VAR_private_key");
    expect(gate({ STACK: "homelab", PREVIEW_STACKS: "homelab", PULUMI_ACCESS_TOKEN: "" }).stdout).toContain("not set: PULUMI_ACCESS_TOKEN");
  });

  it("runs when listed with every secret; on Gitea it says so in plain words", () => {
    expect(gate({ STACK: "oci", PREVIEW_STACKS: "dev,oci", PULUMI_ACCESS_TOKEN: "p", ...OCI }).output).toBe("ready=true\n");
    expect(gate({ STACK: "homelab", PREVIEW_STACKS: "homelab", PULUMI_ACCESS_TOKEN: "p" }).output).toBe("ready=true\n");
    const gitea = gate({ STACK: "dev", GITEA_ACTIONS: "true" });
    expect(gitea.stdout).toMatch(/^preview of stack dev skipped: /);
    expect(gitea.stdout).not.toContain("::notice");
  });

  it("GitHub previews and comments through pulumi/actions; Gitea posts through pr-comment", () => {
    const gh = load(FILES.githubPreview).jobs.preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(gh.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", diff: true, "comment-on-pr": true, "edit-pr-comment": true });
    const s = load(FILES.giteaPreview).jobs.preview.steps;
    expect(s.find((x) => x.id === "preview")?.run).toMatch(/pulumi preview --diff .*--stack "\$STACK"/);
    const comment = s.at(-1)!;
    expect(comment.run).toContain('node_modules/.bin/tsx scripts/pr-comment.ts preview.txt --preview "$STACK" --outcome "$OUTCOME"');
    expect(comment.env).toMatchObject({ FORGE: "gitea", TOKEN: "${{ github.token }}", OUTCOME: "${{ steps.preview.outcome }}" });
  });
});
