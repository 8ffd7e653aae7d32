// The e2e delivery loop (scripts/e2e/delivery-loop.sh, traffic.sh) against a real Git repository
// (a local bare clone of the bootstrap content standing in for Gitea's) and fake curl and kubectl:
// the good change is pushed and promoted, the failing change is pushed and aborted with traffic
// back on stable, and every way either can go wrong fails, quickly and by name.
import { afterAll, beforeAll, expect, it } from "vitest";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ciStack, CiStack, FakeRule, http, kube, Sandbox } from "./helpers/e2e-fakes";
import { needs } from "./helpers/binaries";

// The scripts run for real with bash, jq and git (base tools for the rest).
const e2eTools = needs("jq", "git");
// The app through the gateway, under its https URL (components/tls; lib.sh sends it to loopback).
const GATEWAY = "https://app.platform.localhost:8443";
const API = "http://127.0.0.1:30300/api/v1/repos/platform/platform-apps";
const IMAGE = "registry.platform.internal:5000/platform/sample-api";
const BUMP = "b0".repeat(20);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, {
  cwd, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
}).trim();

let stack: CiStack;
const boxes: Sandbox[] = [];
beforeAll(async () => { if (!e2eTools.reason) stack = await ciStack(); }, 60_000);
afterAll(() => { for (const b of boxes) b.cleanup(); });

/** A sandbox whose "Gitea" repository is a local bare repo holding the bootstrap content (app/VERSION = version). */
function box(version: string): { b: Sandbox; bare: string } {
  const b = new Sandbox();
  boxes.push(b);
  b.write("outputs.json", stack.outputs);
  b.write("credentials.json", stack.credentials, 0o600);
  const seed = path.join(b.root, "seed");
  for (const [p, text] of Object.entries({ ...stack.files, "app/VERSION": `${version}\n` })) {
    fs.mkdirSync(path.dirname(path.join(seed, p)), { recursive: true });
    fs.writeFileSync(path.join(seed, p), text);
  }
  git(seed, "init", "-q", "-b", "main");
  git(seed, "add", "-A");
  git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "Initial platform content");
  const bare = path.join(b.root, "gitea.git");
  git(b.root, "clone", "-q", "--bare", seed, bare);
  return { b, bare };
}

const rollout = (image: string, phase: string, stableRS: string, currentPodHash: string, extra: object = {}) => kube({
  metadata: { name: "sample-api", namespace: "sample-app", generation: 3 },
  spec: { template: { spec: { containers: [{ name: "api", image }] } } },
  status: { phase, stableRS, currentPodHash, message: phase === "Healthy" ? "" : "more replicas need to be updated", canary: { weights: { canary: { weight: 20 } } }, ...extra },
});
const application = (revision: string) => kube({ metadata: { name: "sample-app" }, status: { sync: { status: "Synced", revision }, health: { status: "Healthy" } } });
/** Gitea's run list for whatever main is in the bare repo (the commit the loop pushed). */
const runs = (bare: string, status: string, conclusion: string, n: number) => ({
  exec: `jq -n --arg s "$(git --git-dir=${JSON.stringify(bare)} rev-parse main)" '{total_count: 1, workflow_runs: [{id: ${n + 100}, run_number: ${n}, head_sha: $s, status: "${status}", conclusion: "${conclusion}"}]}'`,
});
const bumped = (tag: string) => stack.files["deploy/dev/rollout.yaml"].replace(`image: ${IMAGE}:0.1.0`, `image: ${IMAGE}:${tag}`);

function gitea(bare: string, tag: string, n: number, run: "success" | "failure" | "none" = "success"): FakeRule[] {
  return [
    { cmd: "curl", match: `^GET ${esc(API)}/actions/runs\\?head_sha=[0-9a-f]{40}&limit=20 user=platform-admin$`, responses: run === "none"
      ? [http(200, { total_count: 0, workflow_runs: [] })]
      : [runs(bare, "in_progress", "", n), runs(bare, "completed", run, n)] },
    { cmd: "curl", match: `^GET ${esc(API)}/raw/deploy/dev/rollout\\.yaml\\?ref=main user=platform-admin$`, responses: [http(200, bumped(tag))] },
    { cmd: "curl", match: `^GET ${esc(API)}/branches/main user=platform-admin$`, responses: [http(200, { name: "main", commit: { id: BUMP, message: `release: ${IMAGE}:${tag}` } })] },
    { cmd: "kubectl", match: "get applications.argoproj.io sample-app", responses: [application("a0".repeat(20)), application(BUMP)] },
  ];
}
const serving = (version: string): FakeRule => ({ cmd: "curl", match: `^GET ${esc(GATEWAY)}/ host=app\\.platform\\.localhost:8443$`, responses: [http(200, { service: "sample-api", version, host: "sample-api-x" })] });
const analysis = (phase: string, failed: number) => kube({ items: [
  { metadata: { name: "sample-api-7f-2-1", creationTimestamp: "2026-01-01T10:00:00Z" }, status: { phase: "Successful" } },
  { metadata: { name: "sample-api-9c-3-1", creationTimestamp: "2026-01-01T11:00:00Z" }, status: { phase, metricResults: [{ name: "success-rate", successful: 0, failed }] } },
] });
const vs = (stable: number, canary: number) => kube({ spec: { http: [{ name: "primary", route: [
  { destination: { host: "sample-api-stable", port: { number: 8080 } }, weight: stable },
  { destination: { host: "sample-api-canary", port: { number: 8080 } }, weight: canary },
] }] } });
const FAST = { E2E_RUN_TIMEOUT: "20", E2E_SYNC_TIMEOUT: "20", E2E_ROLLOUT_TIMEOUT: "20", E2E_SETTLE_TIMEOUT: "20", E2E_TRAFFIC_INTERVAL: "0.5" };

e2eTools.describe("delivery-loop.sh against a real Git repository and fakes", () => {
  it("good: pushes the next patch version to main, follows run, bump and sync, and waits for the promotion", () => {
    const { b, bare } = box("0.1.0");
    const before = git(bare, "rev-parse", "main");
    b.on(...gitea(bare, "0.1.1-main.7", 7), serving("0.1.1"), { cmd: "kubectl", match: "get rollouts.argoproj.io sample-api", responses: [
      rollout(`${IMAGE}:0.1.0-main.1`, "Healthy", "rs1", "rs1"),
      rollout(`${IMAGE}:0.1.1-main.7`, "Progressing", "rs1", "rs2"),
      rollout(`${IMAGE}:0.1.1-main.7`, "Healthy", "rs2", "rs2"),
    ] });
    const r = b.run("delivery-loop.sh", ["good"], { ...FAST, E2E_REPO_URL: bare });
    expect(r.status, r.stderr).toBe(0);
    // One commit on main, by the loop, changing app/VERSION only.
    expect(git(bare, "rev-list", "--count", `${before}..main`)).toBe("1");
    expect(git(bare, "log", "-1", "--format=%s", "main")).toBe("e2e: good release 0.1.1");
    expect(git(bare, "diff", "--name-only", before, "main")).toBe("app/VERSION");
    expect(git(bare, "show", "main:app/VERSION")).toBe("0.1.1");
    const pushed = git(bare, "rev-parse", "main");
    expect(b.calls("curl").some((c) => c.key.includes(`head_sha=${pushed}`))).toBe(true);
    expect(b.results()).toEqual([["delivery-good", "pass", expect.stringMatching(/^0\.1\.1-main\.7 went from git push to Healthy in \d+s; the app answers 0\.1\.1$/)]]);
    expect(b.timings().map((t) => t[0])).toEqual([
      "good: push to release run succeeded (test, build, scan, push, bump)", "good: release run to Argo CD synced on the bump",
      "good: Argo CD sync to Rollout Healthy (20% → analysis → 80% → analysis → 100%)", "good: push to Rollout Healthy",
    ]);
    // Traffic ran through the gateway during the canary, and stopped.
    expect(b.read("traffic-good.log")).toMatch(/^200\n/);
    const lines = b.read("traffic-good.log").split("\n").length;
    execFileSync("sleep", ["0.5"]);
    expect(b.read("traffic-good.log").split("\n").length).toBe(lines);
  });

  it("bad: pushes a build with ERROR_RATE=0.5, waits for the abort, weights 100/0 and the stable version answering", () => {
    const { b, bare } = box("0.1.1");
    const before = git(bare, "rev-parse", "main");
    b.on(...gitea(bare, "0.1.2-main.8", 8), serving("0.1.1"),
      { cmd: "kubectl", match: "get rollouts.argoproj.io sample-api", responses: [
        rollout(`${IMAGE}:0.1.1-main.7`, "Healthy", "rs2", "rs2"),
        rollout(`${IMAGE}:0.1.2-main.8`, "Progressing", "rs2", "rs3"),
        rollout(`${IMAGE}:0.1.2-main.8`, "Degraded", "rs2", "rs3", { abort: true, message: "RolloutAborted: metric \"success-rate\" assessed Failed" }),
      ] },
      { cmd: "kubectl", match: "get analysisruns", responses: [analysis("Failed", 2)] },
      { cmd: "kubectl", match: "get virtualservices.networking.istio.io sample-api", responses: [vs(80, 20), vs(100, 0)] },
    );
    const r = b.run("delivery-loop.sh", ["bad"], { ...FAST, E2E_REPO_URL: bare });
    expect(r.status, r.stderr).toBe(0);
    expect(git(bare, "show", "main:app/VERSION")).toBe("0.1.2");
    expect(git(bare, "diff", "--name-only", before, "main").split("\n")).toEqual(["app/Dockerfile", "app/VERSION"]);
    const dockerfile = git(bare, "show", "main:app/Dockerfile");
    expect(dockerfile.endsWith("ENV ERROR_RATE=0.5")).toBe(true);
    // Appended after the runtime stage's last line: the test stage does not see it.
    expect(dockerfile.lastIndexOf("FROM ")).toBeLessThan(dockerfile.indexOf("ERROR_RATE"));
    expect(b.results()).toEqual([["delivery-bad", "pass",
      "0.1.2-main.8 (ERROR_RATE=0.5) aborted by the analysis (sample-api-9c-3-1 Failed (success-rate: 0 ok, 2 failed)); traffic back on stable 0.1.1 (100/0)"]]);
    expect(b.timings().map((t) => t[0])).toContain("bad: Argo CD sync to Rollout aborted by the analysis");
  });

  it("ERROR_RATE is the sample app's failure switch (the server reads it, the README documents it)", () => {
    const server = stack.files["app/sample_api/server.py"];
    expect(server).toContain('float(env.get("ERROR_RATE", "0")');
    expect(server).toContain("injected failure (ERROR_RATE)");
  });

  it("good: an aborted canary fails at once, with the analysis", () => {
    const { b, bare } = box("0.1.0");
    b.on(...gitea(bare, "0.1.1-main.7", 7), serving("0.1.1"),
      { cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.0-main.1`, "Healthy", "rs1", "rs1"),
        rollout(`${IMAGE}:0.1.1-main.7`, "Degraded", "rs1", "rs2", { abort: true, message: "RolloutAborted" })] },
      { cmd: "kubectl", match: "get analysisruns", responses: [analysis("Failed", 2)] });
    const r = b.run("delivery-loop.sh", ["good"], { ...FAST, E2E_REPO_URL: bare, E2E_ROLLOUT_TIMEOUT: "600" });
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr).toContain("aborted: RolloutAborted; analysis sample-api-9c-3-1 Failed (success-rate: 0 ok, 2 failed)");
    expect(b.results()[0].slice(0, 2)).toEqual(["delivery-good", "fail"]);
  });

  it("bad: a promoted failing version fails; so does an abort without a failed analysis, and weights that stay split", () => {
    const promoted = box("0.1.1");
    promoted.b.on(...gitea(promoted.bare, "0.1.2-main.8", 8), serving("0.1.1"),
      { cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.1-main.7`, "Healthy", "rs2", "rs2"), rollout(`${IMAGE}:0.1.2-main.8`, "Healthy", "rs3", "rs3")] },
      { cmd: "kubectl", match: "get analysisruns", responses: [analysis("Successful", 0)] });
    const r1 = promoted.b.run("delivery-loop.sh", ["bad"], { ...FAST, E2E_REPO_URL: promoted.bare, E2E_ROLLOUT_TIMEOUT: "600" });
    expect(r1.status).toBe(1);
    expect(r1.ms).toBeLessThan(15_000);
    expect(r1.stderr).toContain("the failing version 0.1.2-main.8 was promoted");

    const manual = box("0.1.1");
    manual.b.on(...gitea(manual.bare, "0.1.2-main.8", 8), serving("0.1.1"),
      { cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.1-main.7`, "Healthy", "rs2", "rs2"), rollout(`${IMAGE}:0.1.2-main.8`, "Degraded", "rs2", "rs3", { abort: true })] },
      { cmd: "kubectl", match: "get analysisruns", responses: [analysis("Running", 0)] });
    expect(manual.b.run("delivery-loop.sh", ["bad"], { ...FAST, E2E_REPO_URL: manual.bare }).stderr).toContain("the Rollout aborted, but not on a failed analysis");

    const split = box("0.1.1");
    split.b.on(...gitea(split.bare, "0.1.2-main.8", 8), serving("0.1.1"),
      { cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.1-main.7`, "Healthy", "rs2", "rs2"), rollout(`${IMAGE}:0.1.2-main.8`, "Degraded", "rs2", "rs3", { abort: true })] },
      { cmd: "kubectl", match: "get analysisruns", responses: [analysis("Failed", 2)] },
      { cmd: "kubectl", match: "get virtualservices", responses: [vs(80, 20)] });
    const r3 = split.b.run("delivery-loop.sh", ["bad"], { ...FAST, E2E_REPO_URL: split.bare, E2E_SETTLE_TIMEOUT: "1" });
    expect(r3.status).toBe(1);
    expect(r3.stderr).toContain('not done within 1s (last seen: {"sample-api-stable":80,"sample-api-canary":20})');
  });

  it("a failed release run fails at once; no run at all times out; traffic that never returns to stable times out", () => {
    const failed = box("0.1.0");
    failed.b.on(...gitea(failed.bare, "0.1.1-main.7", 7, "failure"), { cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.0-main.1`, "Healthy", "rs1", "rs1")] });
    const r1 = failed.b.run("delivery-loop.sh", ["good"], { ...FAST, E2E_REPO_URL: failed.bare, E2E_RUN_TIMEOUT: "600" });
    expect(r1.status).toBe(1);
    expect(r1.ms).toBeLessThan(15_000);
    expect(r1.stderr).toMatch(/release run #7 for [0-9a-f]{12}: failure/);

    const none = box("0.1.0");
    none.b.on(...gitea(none.bare, "0.1.1-main.7", 7, "none"), { cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.0-main.1`, "Healthy", "rs1", "rs1")] });
    const r2 = none.b.run("delivery-loop.sh", ["good"], { ...FAST, E2E_REPO_URL: none.bare, E2E_RUN_TIMEOUT: "1" });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/not done within 1s \(last seen: no run for [0-9a-f]{12} yet\)/);

    const stale = box("0.1.1");
    stale.b.on(...gitea(stale.bare, "0.1.2-main.8", 8), serving("0.1.2"),
      { cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.1-main.7`, "Healthy", "rs2", "rs2"), rollout(`${IMAGE}:0.1.2-main.8`, "Degraded", "rs2", "rs3", { abort: true })] },
      { cmd: "kubectl", match: "get analysisruns", responses: [analysis("Failed", 2)] },
      { cmd: "kubectl", match: "get virtualservices", responses: [vs(100, 0)] });
    const r3 = stale.b.run("delivery-loop.sh", ["bad"], { ...FAST, E2E_REPO_URL: stale.bare, E2E_SETTLE_TIMEOUT: "1" });
    expect(r3.status).toBe(1);
    expect(r3.stderr).toContain("answers 10 times in a row as 0.1.1: not done within 1s (last seen: request 1: HTTP 200 version 0.1.2)");
  });

  it("refuses to start unless the Rollout is Healthy, and without a mode", () => {
    const { b, bare } = box("0.1.0");
    b.on({ cmd: "kubectl", match: "get rollouts", responses: [rollout(`${IMAGE}:0.1.0`, "Degraded", "rs1", "rs1")] });
    const r = b.run("delivery-loop.sh", ["good"], { ...FAST, E2E_REPO_URL: bare });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("precondition: Rollout sample-api is Degraded, not Healthy");
    expect(b.calls("curl")).toEqual([]);
    expect(b.run("delivery-loop.sh", []).status).toBe(64);
  });
});

e2eTools.describe("traffic.sh", () => {
  it("sends requests with the app's Host header, records each status and stops by itself", () => {
    const b = new Sandbox();
    boxes.push(b);
    b.on({ cmd: "curl", match: "host=app", responses: [http(200), http(500), http(0)] });
    const r = b.run("traffic.sh", [`${GATEWAY}/`, "app.platform.localhost:8443", path.join(b.e2eDir, "t.log"), "2", "0.05"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.ms).toBeGreaterThan(900);
    expect(r.ms).toBeLessThan(8000);
    const codes = b.read("t.log").trim().split("\n");
    expect(codes.slice(0, 3)).toEqual(["200", "500", "000"]);
    expect(b.calls("curl")[0].key).toBe(`GET ${GATEWAY}/ host=app.platform.localhost:8443`);
  });
});
