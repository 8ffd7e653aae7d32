// The pull request side of the render diff: scripts/render-diff-pr.sh run for real on a throwaway
// git repository (npm stubbed, the real render-diff), and scripts/pr-comment.ts against a local
// HTTP server that answers like GitHub's and Gitea's issue comment API.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import {
  CommentTarget, JOB_TOKEN_AUTHOR, MAX_BODY, commentBody, findComment, markerLine, parseArgs, previewBody, targetFromEnv, upsertComment,
} from "../scripts/pr-comment";
import { needs } from "./helpers/binaries";

const ROOT = path.resolve(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "render-diff-pr-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const git = (cwd: string, ...args: string[]) => {
  const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
};

// npm as the script calls it: `ci` records where it ran; `run render` writes a one-object render
// from value.txt (or fails when it says "fail"); `run render:diff` runs the real render-diff.
const NPM_STUB = `#!/usr/bin/env bash
set -euo pipefail
echo "npm $* in $PWD" >>"$NPM_LOG"
case "$1" in
  ci) mkdir -p node_modules ;;
  run)
    if [ "$2" = "render" ]; then
      value="$(cat value.txt)"
      if [ "$value" = "fail" ]; then echo "Error: the render broke" >&2; exit 1; fi
      mkdir -p out/fix
      printf '# summary\\n' >out/fix/summary.md
      printf '{"format":1,"stack":"fix","placeholders":[],"charts":[],"budget":null,"objects":[{"file":"apps/cm.yaml","type":"kubernetes:core/v1:ConfigMap","name":"cm","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"apps"},"data":{"v":"%s"}}}]}' "$value" >out/fix/render.json
    else
      shift 3
      exec "$REAL_ROOT/node_modules/.bin/tsx" "$REAL_ROOT/scripts/render-diff.ts" "$@"
    fi ;;
  *) echo "unexpected npm $*" >&2; exit 2 ;;
esac
`;

function scenario(name: string, head: { value: string; lock?: string }) {
  const repo = path.join(tmp, name);
  fs.mkdirSync(repo);
  git(repo, "init", "-q");
  fs.writeFileSync(path.join(repo, "value.txt"), "one\n");
  fs.writeFileSync(path.join(repo, "package-lock.json"), "{}\n");
  fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules/\nout/\n*.md\n");
  git(repo, "add", "-A"); git(repo, "commit", "-qm", "base");
  const mergeBase = git(repo, "rev-parse", "HEAD");
  git(repo, "checkout", "-qb", "pr");
  fs.writeFileSync(path.join(repo, "value.txt"), `${head.value}\n`);
  if (head.lock) fs.writeFileSync(path.join(repo, "package-lock.json"), head.lock);
  git(repo, "commit", "-qam", "head");
  // The base branch moves on after the branch point: the diff must not show that.
  git(repo, "checkout", "-q", "main");
  fs.writeFileSync(path.join(repo, "value.txt"), "three\n");
  git(repo, "commit", "-qam", "main moves on");
  const baseTip = git(repo, "rev-parse", "HEAD");
  git(repo, "checkout", "-q", "pr");
  const bin = path.join(tmp, `${name}-bin`);
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "npm"), NPM_STUB, { mode: 0o755 });
  const log = path.join(tmp, `${name}-npm.log`);
  const summary = path.join(tmp, `${name}-summary.md`);
  const r = spawnSync("bash", [path.join(ROOT, "scripts/render-diff-pr.sh")], {
    cwd: repo, encoding: "utf8", timeout: 60_000,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, BASE_REV: baseTip, NPM_LOG: log, REAL_ROOT: ROOT, GITHUB_STEP_SUMMARY: summary },
  });
  const comment = fs.existsSync(path.join(repo, "render-diff.md")) ? fs.readFileSync(path.join(repo, "render-diff.md"), "utf8") : "";
  return { repo, r, comment, mergeBase, npm: fs.readFileSync(log, "utf8").trim().split("\n"), summary: fs.existsSync(summary) ? fs.readFileSync(summary, "utf8") : "", worktrees: git(repo, "worktree", "list") };
}

needs("git").describe("scripts/render-diff-pr.sh", () => {
  it("renders the merge base and the head, shares node_modules when the lock file is the same, and cleans up", () => {
    const s = scenario("same-lock", { value: "two" });
    expect(s.r.status, s.r.stderr).toBe(0);
    expect(s.comment).toContain(`Base \`${s.mergeBase.slice(0, 12)} (merge base)\``);
    expect(s.comment).toContain("@@ data.v\n- \"one\"\n+ \"two\"");
    expect(s.comment).not.toContain("three");
    expect(s.npm.filter((l) => l.startsWith("npm ci"))).toHaveLength(1);
    expect(s.npm.filter((l) => l.startsWith("npm run render in"))).toHaveLength(2);
    expect(s.summary).toBe(s.comment);
    expect(s.r.stdout).toContain("@@ data.v");
    expect(s.worktrees.split("\n")).toHaveLength(1);
  }, 60_000);

  it("installs the base's own dependencies when the lock file changed", () => {
    const s = scenario("new-lock", { value: "two", lock: '{"changed":true}\n' });
    expect(s.r.status, s.r.stderr).toBe(0);
    const ci = s.npm.filter((l) => l.startsWith("npm ci"));
    expect(ci).toHaveLength(2);
    expect(ci.some((l) => !l.endsWith(s.repo))).toBe(true);
  }, 60_000);

  it("a head that does not render still gets its comment, and fails the job", () => {
    const s = scenario("head-fails", { value: "fail" });
    expect(s.r.status).not.toBe(0);
    expect(s.comment).toContain("The head did not render");
    expect(s.comment).toContain("Error: the render broke");
    expect(s.worktrees.split("\n")).toHaveLength(1);
  }, 60_000);
});

// ---- pr-comment -------------------------------------------------------------------------------

interface Stored { id: number; body: string; user: { login: string } }

/** Issue comments as GitHub (paged, per_page ≤ 100) and Gitea (one list) serve them. */
function forgeServer(forge: "github" | "gitea", readOnly = false) {
  const comments: Stored[] = [];
  const requests: string[] = [];
  let next = 1;
  const server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      const url = new URL(req.url!, "http://x");
      requests.push(`${req.method} ${url.pathname}${url.search} ${req.headers.authorization}`);
      const send = (status: number, body: unknown) => { res.writeHead(status, { "Content-Type": "application/json" }); res.end(JSON.stringify(body)); };
      const prefix = forge === "gitea" ? "/api/v1" : "";
      const expected = forge === "gitea" ? "token tok" : "Bearer tok";
      if (req.headers.authorization !== expected) return send(401, { message: "Bad credentials" });
      const list = new RegExp(`^${prefix}/repos/o/r/issues/7/comments$`);
      const edit = new RegExp(`^${prefix}/repos/o/r/issues/comments/(\\d+)$`);
      if (req.method === "GET" && list.test(url.pathname)) {
        if (forge === "gitea") return send(200, comments);
        const per = Number(url.searchParams.get("per_page") ?? 30);
        const page = Number(url.searchParams.get("page") ?? 1);
        return send(200, comments.slice((page - 1) * per, page * per));
      }
      if (readOnly) return send(403, { message: "Resource not accessible by integration" });
      const login = forge === "gitea" ? "gitea-actions" : "github-actions[bot]";
      if (req.method === "POST" && list.test(url.pathname)) {
        const c = { id: next++, body: JSON.parse(data).body, user: { login } };
        comments.push(c);
        return send(201, c);
      }
      const m = edit.exec(url.pathname);
      if (req.method === "PATCH" && m) {
        const c = comments.find((x) => x.id === Number(m[1]));
        if (!c) return send(404, { message: "Not Found" });
        if (c.user.login !== login) return send(403, { message: "not yours" });
        c.body = JSON.parse(data).body;
        return send(200, c);
      }
      send(404, { message: `no route ${req.method} ${url.pathname}` });
    });
  });
  return { server, comments, requests, add: (body: string, login: string) => comments.push({ id: next++, body, user: { login } }) };
}

async function listen(s: http.Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe("scripts/pr-comment.ts", () => {
  const servers: http.Server[] = [];
  afterAll(() => { for (const s of servers) s.close(); });
  const start = async (forge: "github" | "gitea", readOnly = false) => {
    const f = forgeServer(forge, readOnly);
    servers.push(f.server);
    const url = await listen(f.server);
    const target: CommentTarget = targetFromEnv(forge === "gitea"
      ? { FORGE: "gitea", ACTIONS_RESULTS_URL: `${url}/`, TOKEN: "tok", REPOSITORY: "o/r", PR_NUMBER: "7" }
      : { FORGE: "github", GITHUB_API_URL: url, TOKEN: "tok", REPOSITORY: "o/r", PR_NUMBER: "7" });
    return { ...f, target };
  };
  const marker = markerLine("render-diff");

  it("GitHub: creates ONE comment, then edits it; another author's comment with the marker is left alone", async () => {
    const f = await start("github");
    // 150 comments before ours: the list is paged.
    for (let i = 0; i < 150; i++) f.add(`chatter ${i}`, "someone");
    f.add(`${marker}\nforged`, "someone");
    expect(await upsertComment(f.target, "first", marker)).toEqual({ action: "created", id: 152 });
    expect(await upsertComment(f.target, "second", marker)).toEqual({ action: "updated", id: 152 });
    const ours = f.comments.filter((c) => c.user.login === "github-actions[bot]");
    expect(ours.map((c) => c.body)).toEqual([`${marker}\nsecond`]);
    expect(f.comments.find((c) => c.id === 151)!.body).toBe(`${marker}\nforged`);
    expect(f.requests.filter((r) => r.startsWith("GET")).map((r) => r.split(" ")[1])).toContain("/repos/o/r/issues/7/comments?per_page=100&page=2");
  });

  it("Gitea: the runner URL's /api/v1 with `token` auth, never the server URL (PM-24)", async () => {
    const f = await start("gitea");
    expect(f.target.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
    expect(f.target.author).toBe(JOB_TOKEN_AUTHOR.gitea);
    await upsertComment(f.target, "first", marker);
    await upsertComment(f.target, "second", marker);
    expect(f.comments.map((c) => c.body)).toEqual([`${marker}\nsecond`]);
    expect(f.requests.map((r) => r.split(" ").slice(0, 2).join(" "))).toEqual([
      "GET /api/v1/repos/o/r/issues/7/comments", "POST /api/v1/repos/o/r/issues/7/comments",
      "GET /api/v1/repos/o/r/issues/7/comments", "PATCH /api/v1/repos/o/r/issues/comments/1",
    ]);
    expect(() => targetFromEnv({ FORGE: "gitea", GITHUB_SERVER_URL: "http://gitea.example", TOKEN: "t", REPOSITORY: "o/r", PR_NUMBER: "7" })).toThrow(/ACTIONS_RESULTS_URL .*PM-24/);
  });

  it("a read-only token (a pull request from a fork) is a warning, not a failure; bad credentials fail", async () => {
    const f = await start("github", true);
    expect(await upsertComment(f.target, "x", marker)).toMatchObject({ action: "not-allowed" });
    await expect(upsertComment({ ...f.target, token: "wrong" }, "x", marker)).rejects.toThrow(/HTTP 401/);
  });

  it("the CLI posts a file and a pulumi preview, each under its own marker", async () => {
    const f = await start("gitea");
    const file = path.join(tmp, "preview.txt");
    fs.writeFileSync(file, "+ kubernetes:apps/v1:Deployment api create\n");
    const env = { ...process.env, FORGE: "gitea", ACTIONS_RESULTS_URL: f.target.api.replace(/\/api\/v1$/, ""), TOKEN: "tok", REPOSITORY: "o/r", PR_NUMBER: "7" };
    const run = (...args: string[]) => new Promise<{ status: number | null; out: string }>((resolve) => {
      const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "scripts/pr-comment.ts"), ...args], { env });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d));
      child.stderr.on("data", (d: Buffer) => (out += d));
      child.on("close", (status: number | null) => resolve({ status, out }));
    });
    const a = await run(file, "--preview", "oci", "--outcome", "success");
    expect(a.out).toMatch(/created comment 1 on o\/r#7/);
    expect(a.status).toBe(0);
    const b = await run(file, "--marker", "render-diff");
    expect(b.status).toBe(0);
    expect(f.comments.map((c) => c.body.split("\n")[0])).toEqual(["<!-- platform:pulumi-preview:oci -->", "<!-- platform:render-diff -->"]);
    expect(f.comments[0].body).toContain("### pulumi preview: `oci` (success)");
    const missing = await run(path.join(tmp, "nope.md"));
    expect(missing.status).toBe(1);
    expect(missing.out).toMatch(/does not exist/);
  }, 60_000);

  it("pure parts: the marker first, bodies bounded, the job token's own comment only, env checked by name", () => {
    expect(commentBody("x", marker)).toBe(`${marker}\nx`);
    expect(commentBody(`${marker}\nx`, marker)).toBe(`${marker}\nx`);
    expect(commentBody("y".repeat(70_000), marker).length).toBe(MAX_BODY);
    expect(previewBody("dev", "failure", "z".repeat(70_000)).length).toBeLessThan(MAX_BODY);
    expect(previewBody("dev", "failure", "```\nx")).toContain("````diff");
    expect(findComment([{ id: 1, body: marker, user: { login: "mallory" } }, { id: 2, body: `a\n${marker}`, user: { login: "gitea-actions" } }], marker, "gitea-actions")?.id).toBe(2);
    expect(() => targetFromEnv({ FORGE: "github", REPOSITORY: "o/r", PR_NUMBER: "7" })).toThrow(/^TOKEN is not set/);
    expect(() => targetFromEnv({ FORGE: "gitlab" })).toThrow(/FORGE must be github or gitea/);
    expect(() => targetFromEnv({ FORGE: "github", TOKEN: "t", REPOSITORY: "o/r", PR_NUMBER: "x" })).toThrow(/PR_NUMBER/);
    expect(() => parseArgs(["a", "--marker", "bad name"])).toThrow(/--marker/);
  });
});
