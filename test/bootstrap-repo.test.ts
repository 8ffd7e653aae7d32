import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync, spawn, spawnSync } from "child_process";
import { needs } from "./helpers/binaries";
import * as http from "http";
import { randomBytes } from "crypto";
import { Created, find, findAll, isSecretInput, mocks, plain, unwrap } from "./helpers/mocks";
import { ClusterContext } from "../components/lib/context";
import { images } from "../components/lib/versions";
import {
  BOOTSTRAP_IMAGE, BOOTSTRAP_ORG, BOOTSTRAP_REPO, bootstrapJob, CHECKOUT_ACTION, contentConfig, JOB_ANNOTATIONS, OWNED_LIST,
  releaseWorkflow, repoUrl,
} from "../components/gitops/bootstrap-repo";
import { testContext } from "./helpers/context";
import { renderSampleApp } from "../components/apps/sample-app";

const ctx: ClusterContext = testContext("dev");
/** The Gitea users the Job creates (#14.1), with their passwords. */
const USERS = { READER_USER: "argocd-reader", READER_PASSWORD: "reader pw #1", BOT_USER: "ci-bot", BOT_PASSWORD: "bot \"pw\" 1" };
const shellcheck = needs("shellcheck");
// The script's own tools, and git http-backend behind the fake Gitea.
const gitAndCurl = needs("git", "curl");
const SCRIPT = path.resolve(__dirname, "../components/gitops/scripts/bootstrap-repo.sh");
const RUNNER_URL = "http://k3d-platform-server-0:30300";
const workflowArgs = {
  ctx, serverUrl: RUNNER_URL, image: "platform/sample-api", manifests: ["deploy/dev/rollout.yaml"], trivyImage: images.trivy,
};
const jobArgs = {
  ctx, name: "bootstrap-repo-abc", namespace: "gitea", image: BOOTSTRAP_IMAGE, secretName: "bootstrap-repo-credentials",
  scriptConfigMap: "bootstrap-repo-script", contentConfigMap: "bootstrap-repo-content", org: BOOTSTRAP_ORG, repo: BOOTSTRAP_REPO,
  withRegistrySecret: true,
};

describe("bootstrap-repo.sh", () => {
  shellcheck.it("passes shellcheck at warning level", () => {
    const r = spawnSync(shellcheck.bin("shellcheck"), ["-S", "warning", SCRIPT], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("repository URL and content encoding (pure)", () => {
  it("PM-14 repoUrl is Gitea's in-cluster Service URL", () => {
    expect(repoUrl(ctx)).toBe("http://gitea-http.gitea.svc.cluster.local:3000/platform/platform-apps.git");
    expect(BOOTSTRAP_ORG).toBe("platform");
    expect(BOOTSTRAP_REPO).toBe("platform-apps");
  });

  it("paths become valid ConfigMap keys plus a MANIFEST; the hash follows content, not key order", () => {
    const a = contentConfig({ "argocd/app.yaml": "a: 1\n", ".gitea/workflows/release.yaml": "name: x\n" });
    for (const key of Object.keys(a.data)) expect(key).toMatch(/^[-._a-zA-Z0-9]{1,253}$/);
    const lines = a.data.MANIFEST.trim().split("\n").map((l) => l.split(" "));
    expect(lines.map((l) => l[2]).sort()).toEqual([".gitea/workflows/release.yaml", "argocd/app.yaml"]);
    for (const [key, mode, p] of lines) {
      expect(mode).toBe("owned");
      expect(a.data[key]).toBe(p === "argocd/app.yaml" ? "a: 1\n" : "name: x\n");
    }
    const b = contentConfig({ ".gitea/workflows/release.yaml": "name: x\n", "argocd/app.yaml": "a: 1\n" });
    expect(b.hash).toBe(a.hash);
    expect(contentConfig({ "argocd/app.yaml": "a: 2\n", ".gitea/workflows/release.yaml": "name: x\n" }).hash).not.toBe(a.hash);
    expect(contentConfig({ "argocd/app.yaml": "a: 1\n", ".gitea/workflows/release.yaml": "name: x\n" }, ["script v2"]).hash).not.toBe(a.hash);
  });

  it("initial files are marked as such, hashed with their mode, and never given twice", () => {
    const c = contentConfig({ "deploy/dev/rollout.yaml": "r\n" }, [], { "app/VERSION": "0.1.0\n" });
    const modes = Object.fromEntries(c.data.MANIFEST.trim().split("\n").map((l) => l.split(" ")).map(([, m, p]) => [p, m]));
    expect(modes).toEqual({ "deploy/dev/rollout.yaml": "owned", "app/VERSION": "initial" });
    // The same file as owned instead of initial is another plan for Git: another run.
    expect(contentConfig({ "deploy/dev/rollout.yaml": "r\n", "app/VERSION": "0.1.0\n" }).hash).not.toBe(c.hash);
    expect(() => contentConfig({ "app/x": "1" }, [], { "app/x": "2" })).toThrow(/twice/);
    expect(() => contentConfig({ [OWNED_LIST]: "x" })).toThrow(/written by the script/);
  });

  it("refuses unsafe paths, no files, and content over the ConfigMap limit", () => {
    for (const bad of ["../etc/passwd", "/abs", "a/../b", "with space", "a//b", ""]) {
      expect(() => contentConfig({ [bad]: "x" })).toThrow(/path/);
    }
    expect(() => contentConfig({})).toThrow(/no files/);
    expect(() => contentConfig({ big: "x".repeat(1024 * 1024) })).toThrow(/ConfigMap limit/);
  });
});

describe("bootstrapJob (pure)", () => {
  it("hardened pod, credentials only through secretKeyRef, emptyDirs for HOME and /tmp, no TTL", () => {
    const job = bootstrapJob(jobArgs);
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(c.resources.limits.memory).toBeDefined();
    expect(c.command).toEqual(["/bin/bash", "/scripts/bootstrap-repo.sh"]);
    expect(c.args).toBeUndefined();
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e]));
    expect(env.GITEA_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: "bootstrap-repo-credentials", key: "password" });
    expect(env.REGISTRY_PASSWORD.valueFrom.secretKeyRef.key).toBe("registry-password");
    expect(env.GITEA_PASSWORD.value).toBeUndefined();
    expect(env.GITEA_URL.value).toBe(ctx.endpoints.gitea.internalUrl);
    expect(env.HOME.value).toBe("/home/bootstrap");
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
    expect(volumes[mounts["/home/bootstrap"]].emptyDir).toBeDefined();
    expect(volumes[mounts["/tmp"]].emptyDir).toBeDefined();
    expect(volumes[mounts["/content"]].configMap.name).toBe("bootstrap-repo-content");
  });

  it("keepImageTags: passed as KEEP_IMAGE_TAGS, only images without a tag", () => {
    const job = bootstrapJob({ ...jobArgs, keepImageTags: ["registry.platform.internal:5000/platform/sample-api"] });
    const env = Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: any) => [e.name, e]));
    expect(env.KEEP_IMAGE_TAGS.value).toBe("registry.platform.internal:5000/platform/sample-api");
    expect(() => bootstrapJob({ ...jobArgs, keepImageTags: ["registry.platform.internal:5000/platform/sample-api:1.0.0"] })).toThrow(/without a tag/);
    expect(bootstrapJob(jobArgs).spec.template.spec.containers[0].env.map((e: any) => e.name)).not.toContain("KEEP_IMAGE_TAGS");
  });

  it("refuses a :latest or loopback image", () => {
    expect(() => bootstrapJob({ ...jobArgs, image: "docker.io/alpine/git:latest" })).toThrow(/latest/);
    expect(() => bootstrapJob({ ...jobArgs, image: "localhost:5000/git:1.0.0" })).toThrow(/PM-15/);
  });

  it("the default image is pinned: the Gitea rootless image nodes already pull (has bash, git, curl)", () => {
    expect(BOOTSTRAP_IMAGE).toMatch(/:\d+\.\d+\.\d+-rootless@sha256:[0-9a-f]{64}$/);
  });
});

describe("releaseWorkflow (pure)", () => {
  const wf = () => YAML.parse(releaseWorkflow(workflowArgs));
  const steps = () => wf().jobs.release.steps as any[];
  const step = (name: string) => steps().find((s) => s.name === name);

  it("PM-24 checks out from the runner URL with a pinned action", () => {
    const co = step("checkout");
    expect(co.uses).toBe(CHECKOUT_ACTION);
    expect(co.uses).toMatch(/^actions\/checkout@[0-9a-f]{40}$/);
    expect(co.with["github-server-url"]).toBe(RUNNER_URL);
  });

  it("PM-32 test -> build -> Trivy (HIGH/CRITICAL fail) -> push :<semver> and :<sha>; never :latest", () => {
    expect(steps().map((s) => s.name)).toEqual(["checkout", "docker-cli", "version", "test", "build", "scan", "push", "bump"]);
    expect(step("docker-cli").run).toMatch(/docker-\d+\.\d+\.\d+\.tgz/);
    expect(step("test").run).toContain("docker build --target test app");
    expect(step("scan").run).toContain(images.trivy);
    expect(step("scan").run).toMatch(/--severity HIGH,CRITICAL/);
    expect(step("scan").run).toMatch(/--exit-code 1/);
    const push = step("push").run as string;
    expect(push).toContain('docker push "$IMAGE:${{ steps.version.outputs.version }}"');
    expect(push).toContain('docker push "$IMAGE:${{ steps.version.outputs.sha }}"');
    expect(push).toContain("--password-stdin");
    expect(wf().env.IMAGE).toBe("registry.platform.internal:5000/platform/sample-api");
    expect(releaseWorkflow(workflowArgs)).not.toMatch(/:latest/);
    expect(wf().on.push).toEqual({ branches: ["main"], paths: ["app/**"], tags: ["v*"] });
  });

  it("PM-03 pushes the manifest bump with the CI_TOKEN secret as oauth2 user; checkout credentials not persisted", () => {
    expect(step("checkout").with["persist-credentials"]).toBe(false);
    const bump = step("bump");
    expect(bump.env.CI_TOKEN).toBe("${{ secrets.CI_TOKEN }}");
    expect(bump.run).toContain('push_url="http://oauth2:${CI_TOKEN}@k3d-platform-server-0:30300/platform/platform-apps.git"');
    expect(bump.run).toContain('git push -q "$push_url" HEAD:main');
    expect(bump.run).toContain("deploy/dev/rollout.yaml");
  });

  it("PM-31 the bump rewrites the image tag in the manifest (sed run for real)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bump-"));
    try {
      const file = path.join(dir, "rollout.yaml");
      fs.writeFileSync(file, "containers:\n  - name: api\n    image: registry.platform.internal:5000/platform/sample-api:0.1.0\n  - name: other\n    image: docker.io/library/postgres:17.11\n");
      const sed = (step("bump").run as string).split("\n").find((l) => l.startsWith("sed "))!
        .replace("${{ steps.version.outputs.version }}", "1.2.3").replace("deploy/dev/rollout.yaml", file);
      const r = spawnSync("bash", ["-c", sed], { encoding: "utf8", env: { ...process.env, IMAGE: "registry.platform.internal:5000/platform/sample-api" } });
      expect(r.stderr).toBe("");
      const out = fs.readFileSync(file, "utf8");
      expect(out).toContain("image: registry.platform.internal:5000/platform/sample-api:1.2.3");
      expect(out).toContain("image: docker.io/library/postgres:17.11");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  shellcheck.it("every run: block passes shellcheck (expressions replaced by a placeholder)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wf-"));
    try {
      const files = steps().filter((s) => s.run).map((s) => {
        const f = path.join(dir, `${s.name}.sh`);
        fs.writeFileSync(f, `#!/usr/bin/env bash\n${(s.run as string).replace(/\$\{\{[^}]*\}\}/g, "placeholder")}`);
        return f;
      });
      const r = spawnSync(shellcheck.bin("shellcheck"), ["-S", "warning", ...files], { encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a loopback server URL, bad image paths and missing manifests", () => {
    expect(() => releaseWorkflow({ ...workflowArgs, serverUrl: "http://localhost:3000" })).toThrow(/PM-24/);
    expect(() => releaseWorkflow({ ...workflowArgs, image: "registry.platform.internal:5000/x:1" })).toThrow(/repository path/);
    expect(() => releaseWorkflow({ ...workflowArgs, manifests: [] })).toThrow(/no manifests/);
    expect(() => releaseWorkflow({ ...workflowArgs, trivyImage: "aquasec/trivy:latest" })).toThrow(/latest/);
    expect(() => releaseWorkflow({ ...workflowArgs, dockerCliVersion: "latest" })).toThrow(/x\.y\.z/);
  });
});

/** Runs the script against the fake Gitea; resolves with its exit code and output. */
function runScript(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", [SCRIPT], { env: { PATH: process.env.PATH!, ...env } });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", () => clearTimeout(timer));
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

gitAndCurl.describe("bootstrap-repo.sh against a fake Gitea (API + git smart HTTP)", () => {
  let gitea: Awaited<ReturnType<typeof startFakeGitea>>;
  let env: Record<string, string>;
  let root: string;
  beforeAll(async () => {
    gitea = await startFakeGitea({ user: "platform-admin", password: "s3cret-pw" });
    root = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-"));
    const content = path.join(root, "content");
    fs.mkdirSync(content);
    const cfg = contentConfig({ "argocd/root.yaml": "kind: Application\n", "app/VERSION": "0.1.0\n" });
    for (const [k, v] of Object.entries(cfg.data)) fs.writeFileSync(path.join(content, k), v);
    fs.mkdirSync(path.join(root, "home"));
    env = {
      GITEA_URL: gitea.url, GITEA_USER: "platform-admin", GITEA_PASSWORD: "s3cret-pw", ORG: "platform", REPO: "platform-apps",
      CONTENT_DIR: content, HOME: path.join(root, "home"), TMPDIR: root, WAIT_SECONDS: "30", WAIT_INTERVAL: "0.1",
      REGISTRY_USERNAME: "platform", REGISTRY_PASSWORD: "reg-pw", ...USERS,
    };
  });
  afterAll(() => { gitea?.close(); if (root) fs.rmSync(root, { recursive: true, force: true }); });

  it("PM-19 PM-03 creates org, repo on main, CI_TOKEN secret, pushes the content; a second run changes nothing", async () => {
    const first = await runScript(env);
    expect(first.out).toContain("pushed 2 files");
    expect(first.code).toBe(0);
    expect(gitea.state.orgs).toEqual(["platform"]);
    expect(gitea.state.repoOptions["platform/platform-apps"].default_branch).toBe("main");
    expect(gitea.state.secrets.CI_TOKEN).toBe(gitea.state.lastToken);
    expect(gitea.state.secrets.REGISTRY_PASSWORD).toBe("reg-pw");
    expect(gitea.branches("platform/platform-apps")).toEqual(["main"]);
    expect(gitea.file("platform/platform-apps", "argocd/root.yaml")).toBe("kind: Application\n");
    const commits = gitea.commitCount("platform/platform-apps");

    const second = await runScript(env);
    expect(second.code).toBe(0);
    expect(second.out).toContain("already has the stack's files: nothing to commit");
    expect(gitea.commitCount("platform/platform-apps")).toBe(commits);
    expect(gitea.state.orgs).toEqual(["platform"]);
    // The token is rotated (Gitea shows a token only once) and the secret follows it.
    expect(gitea.state.secrets.CI_TOKEN).toBe(gitea.state.lastToken);
    // The password reached the server (auth succeeded) but never the script's output.
    expect(first.out + second.out).not.toContain("s3cret-pw");
  }, 60_000);

  it("fails clearly when Gitea never becomes healthy (bounded wait)", async () => {
    const r = await runScript({ ...env, GITEA_URL: "http://127.0.0.1:9", WAIT_SECONDS: "0" });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("not healthy after 0s");
  });

  it("fails clearly on wrong credentials", async () => {
    const r = await runScript({ ...env, GITEA_PASSWORD: "wrong" });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("authenticate as platform-admin: HTTP 401");
  });

  it("#14.1 Argo CD's reader can clone but not push; CI_TOKEN is the bot's write:repository token, which pushes; neither is site admin", async () => {
    expect((await runScript(env)).code).toBe(0);
    const repo = "platform/platform-apps";
    expect(gitea.state.users["argocd-reader"]).toMatchObject({ password: USERS.READER_PASSWORD, admin: false });
    expect(gitea.state.users["ci-bot"]).toMatchObject({ password: USERS.BOT_PASSWORD, admin: false });
    expect(gitea.state.collaborators[repo]).toEqual({ "argocd-reader": "read", "ci-bot": "write" });
    // The token is the bot's, created with the bot's own credentials, scoped to repositories only.
    expect([...gitea.state.tokens.keys()]).toEqual(["ci-bot/platform-ci"]);
    expect(gitea.state.tokens.get("ci-bot/platform-ci")).toEqual({ sha: gitea.state.secrets.CI_TOKEN, scopes: ["write:repository"] });
    expect(gitea.state.requests).toContain("ci-bot POST /api/v1/users/ci-bot/tokens");
    // Asynchronous: the fake Gitea answers from this process's event loop.
    const git = (url: string, ...args: string[]) => new Promise<{ status: number; stderr: string }>((resolve) => {
      const child = spawn("git", ["-c", "credential.helper=", ...args.map((a) => a.replace("URL", url))], {
        cwd: root, env: { PATH: process.env.PATH!, HOME: root, GIT_TERMINAL_PROMPT: "0" },
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ status: code ?? -1, stderr }));
    });
    const as = (user: string, secret: string) => gitea.url.replace("://", `://${encodeURIComponent(user)}:${encodeURIComponent(secret)}@`) + `/${repo}.git`;
    const reader = path.join(root, "reader");
    expect((await git(as("argocd-reader", USERS.READER_PASSWORD), "clone", "-q", "URL", reader)).status).toBe(0);
    const commit = (dir: string, file: string) => {
      fs.writeFileSync(path.join(dir, file), "x\n");
      execFileSync("git", ["-C", dir, "add", file]);
      execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", file]);
    };
    commit(reader, "reader.txt");
    const refused = await git(as("argocd-reader", USERS.READER_PASSWORD), "-C", reader, "push", "-q", "URL", "HEAD:main");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/403/);
    // What the release workflow's bump step does: oauth2:<CI_TOKEN>.
    expect((await git(as("oauth2", gitea.state.secrets.CI_TOKEN), "-C", reader, "push", "-q", "URL", "HEAD:main")).status).toBe(0);
    // The token cannot reach the admin API.
    const status = (await fetch(`${gitea.url}/api/v1/admin/users`, { method: "POST", headers: { Authorization: `Basic ${Buffer.from(`oauth2:${gitea.state.secrets.CI_TOKEN}`).toString("base64")}` } })).status;
    expect(status).toBe(403);
  }, 60_000);

  it("#14.1 a rotated reader or bot password is applied by the next run; the old one stops working, the bot gets a new token", async () => {
    expect((await runScript(env)).code).toBe(0);
    const oldToken = gitea.state.secrets.CI_TOKEN;
    const rotated = { ...env, READER_PASSWORD: "reader pw #2", BOT_PASSWORD: "bot pw 2" };
    const r = await runScript(rotated);
    expect(r.code, r.out).toBe(0);
    expect(gitea.state.users["argocd-reader"].password).toBe("reader pw #2");
    expect(gitea.state.users["ci-bot"].password).toBe("bot pw 2");
    expect(gitea.state.secrets.CI_TOKEN).not.toBe(oldToken);
    expect([...gitea.state.tokens.values()].map((t) => t.sha)).toEqual([gitea.state.secrets.CI_TOKEN]);
    expect(r.out).not.toMatch(/reader pw|bot pw/);
    // Back to the first passwords for the other tests.
    expect((await runScript(env)).code).toBe(0);
  }, 60_000);

  it("#14.1 refuses the site admin as reader or bot", async () => {
    for (const k of ["READER_USER", "BOT_USER"]) {
      const r = await runScript({ ...env, [k]: "platform-admin" });
      expect(r.code).not.toBe(0);
      expect(r.out).toContain("must not be the site admin");
    }
  });
});

gitAndCurl.describe("item 4: Git follows the stack where the stack owns it (the real script, real git, the fake Gitea)", () => {
  const IMAGE = "registry.platform.internal:5000/platform/sample-api";
  const REPO = "platform/platform-apps";
  const workflow = releaseWorkflow(workflowArgs);
  // The manifests the stack really renders for dev (the image at the template's VERSION).
  const stage1: { owned: Record<string, string>; initial: Record<string, string> } = {
    owned: {
      ...renderSampleApp(ctx), "deploy/dev/service.yaml": "kind: Service\n",
      "argocd/sample-app.yaml": "kind: Application\nspec: {}\n", ".gitea/workflows/release.yaml": workflow,
    },
    // zz/: an initial file last in the MANIFEST (the script's loops must not end on its status).
    initial: { "app/VERSION": "0.1.0\n", "app/main.py": "print('template v1')\n", "zz/notes.md": "notes\n" },
  };
  // The stack renders differently: replicas, a manifest dropped and one added, the Application
  // changed; and its app template moved on (which must not reach the user's app/).
  const stage2: { owned: Record<string, string>; initial: Record<string, string> } = {
    owned: {
      ...renderSampleApp(ctx, { replicas: 3 }), "deploy/dev/pdb.yaml": "kind: PodDisruptionBudget\n",
      "argocd/sample-app.yaml": "kind: Application\nspec: { syncPolicy: {} }\n", ".gitea/workflows/release.yaml": workflow,
    },
    initial: { "app/VERSION": "0.1.0\n", "app/main.py": "print('template v2')\n", "zz/notes.md": "notes v2\n" },
  };

  let root: string;
  let gitea: Awaited<ReturnType<typeof startFakeGitea>>;
  const env = () => ({
    GITEA_URL: gitea.url, GITEA_USER: "platform-admin", GITEA_PASSWORD: "pw", ORG: "platform", REPO: "platform-apps",
    CONTENT_DIR: path.join(root, "content"), HOME: path.join(root, "home"), TMPDIR: path.join(root, "tmp"),
    WAIT_SECONDS: "5", WAIT_INTERVAL: "0.1", KEEP_IMAGE_TAGS: IMAGE, ...USERS,
  });
  const content = (stage: { owned: Record<string, string>; initial: Record<string, string> }) => {
    const dir = path.join(root, "content");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    for (const [k, v] of Object.entries(contentConfig(stage.owned, [], stage.initial).data)) fs.writeFileSync(path.join(dir, k), v);
  };
  /** A commit made outside the stack (the user, CI), straight into the bare repository. */
  const commitAs = (who: string, change: (dir: string) => void) => {
    const dir = fs.mkdtempSync(path.join(root, "work-"));
    const g = (...a: string[]) => execFileSync("git", ["-C", dir, ...a], { encoding: "utf8" });
    execFileSync("git", ["clone", "-q", "--branch", "main", gitea.gitDir(REPO), dir]);
    change(dir);
    g("add", "-A");
    g("-c", `user.name=${who}`, "-c", `user.email=${who}@example.test`, "commit", "-q", "-m", `${who} change`);
    g("push", "-q", "origin", "HEAD:main");
  };
  /** CI's own bump step (the sed of the release workflow), run for real on the clone. */
  const ciBump = (dir: string, version: string) => {
    const bump = (YAML.parse(workflow).jobs.release.steps as any[]).find((st) => st.name === "bump").run as string;
    const sed = bump.split("\n").find((l) => l.startsWith("sed "))!.replace("${{ steps.version.outputs.version }}", version);
    const r = spawnSync("bash", ["-c", sed], { cwd: dir, encoding: "utf8", env: { ...process.env, IMAGE } });
    expect(r.stderr).toBe("");
  };

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-follow-"));
    for (const d of ["home", "tmp"]) fs.mkdirSync(path.join(root, d));
    gitea = await startFakeGitea({ user: "platform-admin", password: "pw" });
  });
  afterEach(() => { gitea?.close(); fs.rmSync(root, { recursive: true, force: true }); });

  it("first push, a user commit to app/ and a CI tag bump, then a stack change: the new rendered files are committed; app/ and the bumped tag are kept", async () => {
    content(stage1);
    const first = await runScript(env());
    const files = Object.keys(stage1.owned).length + Object.keys(stage1.initial).length;
    expect(first.out).toContain(`pushed ${files} files`);
    expect(first.code).toBe(0);
    expect(gitea.file(REPO, OWNED_LIST).split("\n").filter((l) => l && !l.startsWith("#"))).toEqual(Object.keys(stage1.owned).sort());
    expect(gitea.file(REPO, "deploy/dev/rollout.yaml")).toContain(`image: ${IMAGE}:0.1.0\n`);

    commitAs("user", (dir) => {
      fs.writeFileSync(path.join(dir, "app/main.py"), "print('the user wrote this')\n");
      fs.writeFileSync(path.join(dir, "app/extra.py"), "# the user's new file\n");
    });
    commitAs("ci", (dir) => ciBump(dir, "0.1.0-main.7"));
    expect(gitea.file(REPO, "deploy/dev/rollout.yaml")).toContain(`image: ${IMAGE}:0.1.0-main.7`);
    const before = gitea.commitCount(REPO);

    content(stage2);
    const second = await runScript(env());
    expect(second.out).toContain("committed the stack's files");
    expect(second.code).toBe(0);
    expect(gitea.commitCount(REPO)).toBe(before + 1);
    expect(gitea.log(REPO)[0]).toBe("platform-bootstrap platform: update the files the stack renders");
    // The rendered files follow the stack ...
    const live = gitea.file(REPO, "deploy/dev/rollout.yaml");
    expect(live).toContain("replicas: 3");
    expect(live.replace(`${IMAGE}:0.1.0-main.7`, `${IMAGE}:0.1.0`)).toBe(stage2.owned["deploy/dev/rollout.yaml"]);
    expect(gitea.file(REPO, "argocd/sample-app.yaml")).toBe(stage2.owned["argocd/sample-app.yaml"]);
    expect(gitea.file(REPO, "deploy/dev/pdb.yaml")).toBe("kind: PodDisruptionBudget\n");
    expect(gitea.tree(REPO)).not.toContain("deploy/dev/service.yaml");
    // ... but the tag CI bumped stays (never reset to the placeholder), and app/ is the user's.
    expect(live).toContain(`image: ${IMAGE}:0.1.0-main.7`);
    expect(live).not.toContain(`${IMAGE}:0.1.0\n`);
    expect(gitea.file(REPO, "app/main.py")).toBe("print('the user wrote this')\n");
    expect(gitea.file(REPO, "app/extra.py")).toBe("# the user's new file\n");
    expect(gitea.file(REPO, "app/VERSION")).toBe("0.1.0\n");

    // The same content again: nothing to commit.
    const third = await runScript(env());
    expect(third.code).toBe(0);
    expect(third.out).toContain("nothing to commit");
    expect(gitea.commitCount(REPO)).toBe(before + 1);
  }, 30_000);

  it("a repository pushed before the owned list existed: owned is what the stack renders now, nothing else is removed", async () => {
    content(stage1);
    expect((await runScript(env())).code).toBe(0);
    commitAs("older-script", (dir) => {
      fs.rmSync(path.join(dir, OWNED_LIST));
      fs.writeFileSync(path.join(dir, "deploy/dev/users-own.yaml"), "kind: ConfigMap\n");
    });
    content(stage2);
    const r = await runScript(env());
    expect(r.code).toBe(0);
    const tree = gitea.tree(REPO);
    expect(tree).toContain("deploy/dev/users-own.yaml");
    // service.yaml was never listed as owned in this repository: kept too.
    expect(tree).toContain("deploy/dev/service.yaml");
    expect(tree).toContain(OWNED_LIST);
    expect(gitea.file(REPO, "deploy/dev/rollout.yaml")).toContain("replicas: 3");
  }, 30_000);

  it("a push rejected (CI pushed in between) is tried again from the new head", async () => {
    content(stage1);
    expect((await runScript(env())).code).toBe(0);
    // Rejects the first push that reaches it, like a non-fast-forward after CI's bump.
    const hook = path.join(gitea.gitDir(REPO), "hooks", "pre-receive");
    const marker = path.join(root, "rejected-once");
    fs.writeFileSync(hook, `#!/bin/sh\nif [ ! -e '${marker}' ]; then touch '${marker}'; echo 'rejected once' >&2; exit 1; fi\nexit 0\n`, { mode: 0o755 });
    content(stage2);
    const r = await runScript(env());
    expect(r.out).toContain("push rejected (attempt 1)");
    expect(r.out).toContain("committed the stack's files");
    expect(r.code).toBe(0);
    expect(gitea.file(REPO, "deploy/dev/rollout.yaml")).toContain("replicas: 3");
  }, 30_000);
});

/** Wrappers for curl and git that record every argv (NUL-separated) before running the real tool. */
function recordingPath(dir: string): { path: string; argv: () => string[] } {
  const bin = path.join(dir, "bin");
  const log = path.join(dir, "argv.log");
  fs.mkdirSync(bin);
  fs.writeFileSync(log, "");
  for (const tool of ["curl", "git"] as const) {
    const real = gitAndCurl.bin(tool);
    fs.writeFileSync(path.join(bin, tool), `#!/usr/bin/env bash\nprintf '%s\\0' ${tool} "$@" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  }
  return { path: `${bin}:${process.env.PATH}`, argv: () => fs.readFileSync(log, "utf8").split("\0").filter(Boolean) };
}

// netrc tokens are whitespace-separated (the old .netrc gave 401 on a space or a leading `#`); dash's
// echo expands backslashes (an echo-based git helper); unescaped quotes break curl -K and JSON bodies.
const PASSWORDS = [
  "pass word", "#leading", "trailing ", " leading", 'quo"te', "back\\slash", "colon:at@percent%", "it's",
  "echo\\\\expands\\n\\c", " ", Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join(""),
];

gitAndCurl.describe("PM-09 bootstrap-repo.sh with any printable admin password (curl API + real git push, Basic auth checked)", () => {
  it.each(PASSWORDS.map((p) => [JSON.stringify(p), p]))("password %s", async (_label, password) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-pw-"));
    const gitea = await startFakeGitea({ user: "platform-admin", password });
    try {
      const content = path.join(root, "content");
      fs.mkdirSync(content);
      const cfg = contentConfig({ "argocd/root.yaml": "kind: Application\n" });
      for (const [k, v] of Object.entries(cfg.data)) fs.writeFileSync(path.join(content, k), v);
      for (const d of ["home", "tmp"]) fs.mkdirSync(path.join(root, d));
      const rec = recordingPath(root);
      const r = await runScript({
        PATH: rec.path, GITEA_URL: gitea.url, GITEA_USER: "platform-admin", GITEA_PASSWORD: password, ORG: "platform", REPO: "platform-apps",
        CONTENT_DIR: content, HOME: path.join(root, "home"), TMPDIR: path.join(root, "tmp"), WAIT_SECONDS: "5", WAIT_INTERVAL: "0.1",
        REGISTRY_USERNAME: "platform", REGISTRY_PASSWORD: password,
        READER_USER: "argocd-reader", READER_PASSWORD: password, BOT_USER: "ci-bot", BOT_PASSWORD: `${password}-bot`,
      });
      expect(r.out).toContain("pushed 1 files");
      expect(r.code).toBe(0);
      // Both transports authenticated: the API (every route checks Basic auth) and git receive-pack.
      expect(gitea.file("platform/platform-apps", "argocd/root.yaml")).toBe("kind: Application\n");
      // The same value through a JSON body arrives intact.
      expect(gitea.state.secrets.REGISTRY_PASSWORD).toBe(password);
      expect(gitea.state.secrets.CI_TOKEN).toBe(gitea.state.lastToken);
      // Never in an argv (ps), never in the log, no credential file left behind.
      const argv = rec.argv();
      expect(argv.filter((a) => a === "curl").length).toBeGreaterThan(5);
      expect(argv).toContain("push");
      const basic = Buffer.from(`platform-admin:${password}`).toString("base64");
      expect(argv.filter((a) => a.includes(basic) || a.includes(`platform-admin:${password}`))).toEqual([]);
      if (password.trim().length > 1) {
        expect(argv.filter((a) => a.includes(password))).toEqual([]);
        expect(r.out).not.toContain(password);
      }
      expect(fs.readdirSync(path.join(root, "home"))).toEqual([]);
      expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
    } finally {
      gitea.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 10_000);

  /** Runs the script with this registry password; it stops after the Actions secrets (empty MANIFEST). */
  async function withRegistryPassword(registryPassword: string) {
    const gitea = await startFakeGitea({ user: "platform-admin", password: "pw" });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-pw-"));
    try {
      fs.writeFileSync(path.join(root, "MANIFEST"), "");
      const r = await runScript({
        GITEA_URL: gitea.url, GITEA_USER: "platform-admin", GITEA_PASSWORD: "pw", ORG: "platform", REPO: "platform-apps",
        CONTENT_DIR: root, HOME: root, TMPDIR: root, WAIT_SECONDS: "5", WAIT_INTERVAL: "0.1",
        REGISTRY_USERNAME: "platform", REGISTRY_PASSWORD: registryPassword, ...USERS,
      });
      return { ...r, stored: gitea.state.secrets.REGISTRY_PASSWORD };
    } finally {
      gitea.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  it("tab, newline and CR reach a JSON body escaped; any other control character fails before the request", async () => {
    const ok = await withRegistryPassword("tab\tnew\nline\rend");
    expect(ok.stored).toBe("tab\tnew\nline\rend");
    const bad = await withRegistryPassword("bell\x07");
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain("control character");
    expect(bad.stored).toBeUndefined();
  }, 10_000);
});

describe("BootstrapRepo component under mocks", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false));
  beforeEach(() => { created.length = 0; });

  async function build(files: Record<string, string>, registryPassword = "reg-plaintext", users = { reader: "reader-plaintext", bot: "bot-plaintext" }) {
    const { BootstrapRepo } = await import("../components/gitops/bootstrap-repo");
    const repo = new BootstrapRepo("bootstrap-repo", {
      ctx, adminUsername: "platform-admin", adminPassword: pulumi.secret("gitea-plaintext"), registryPassword: pulumi.secret(registryPassword),
      readerPassword: pulumi.secret(users.reader), botPassword: pulumi.secret(users.bot),
      fingerprintKey: pulumi.secret("fingerprint-key"),
      files: ctx.endpoints.gitea.runnerUrl.apply((serverUrl) => ({ ...files, ".gitea/workflows/release.yaml": releaseWorkflow({ ...workflowArgs, serverUrl }) })),
    });
    const name = await unwrap(repo.jobName);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    return name;
  }

  it("PM-09 credentials reach the cluster only as secret stringData; the Job name carries the content hash", async () => {
    const name = await build({ "argocd/root.yaml": "a: 1\n" });
    expect(name).toMatch(/^bootstrap-repo-[0-9a-f]{10}$/);
    const secret = find(created, "kubernetes:core/v1:Secret");
    expect(isSecretInput(secret.inputs.stringData) || isSecretInput(secret.inputs.stringData.password)).toBe(true);
    expect(plain(secret.inputs.stringData).password).toBe("gitea-plaintext");
    const job = find(created, "kubernetes:batch/v1:Job");
    expect(job.inputs.metadata.name).toBe(name);
    expect(JSON.stringify(job.inputs)).not.toContain("gitea-plaintext");
    const cms = findAll(created, "kubernetes:core/v1:ConfigMap");
    const content = cms.find((c) => c.inputs.metadata.name === "bootstrap-repo-content")!;
    expect(plain(content.inputs.data).MANIFEST).toContain(".gitea/workflows/release.yaml");
    // Its flow to Gitea is in the traffic plan, registered with Gitea's namespace (traffic.test.ts).
    expect(findAll(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy")).toHaveLength(0);
  });

  it("a content change gives a new Job name (a new run); the same content the same name", async () => {
    const a = await build({ "argocd/root.yaml": "a: 1\n" });
    const b = await build({ "argocd/root.yaml": "a: 1\n" });
    const c = await build({ "argocd/root.yaml": "a: 2\n" });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it("a new registry password gives a new Job name (the run that stores REGISTRY_PASSWORD), which does not reveal it", async () => {
    const a = await build({ "argocd/root.yaml": "a: 1\n" }, "reg-plaintext");
    const b = await build({ "argocd/root.yaml": "a: 1\n" }, "reg-rotated");
    expect(b).not.toBe(a);
    const job = findAll(created, "kubernetes:batch/v1:Job").at(-1)!;
    expect(plain(job.inputs.metadata.name)).toBe(b);
    expect(isSecretInput(job.inputs.metadata.name)).toBe(false);
    expect(JSON.stringify(plain(job.inputs))).not.toContain("reg-rotated");
  });

  it("#14.1 a new reader or bot password gives a new Job name (the run that sets it in Gitea); neither is revealed", async () => {
    const a = await build({ "argocd/root.yaml": "a: 1\n" });
    const b = await build({ "argocd/root.yaml": "a: 1\n" }, "reg-plaintext", { reader: "reader-rotated", bot: "bot-plaintext" });
    const c = await build({ "argocd/root.yaml": "a: 1\n" }, "reg-plaintext", { reader: "reader-plaintext", bot: "bot-rotated" });
    expect(new Set([a, b, c]).size).toBe(3);
    const secret = findAll(created, "kubernetes:core/v1:Secret").at(-1)!;
    expect(plain(secret.inputs.stringData)).toMatchObject({ "reader-password": "reader-plaintext", "bot-password": "bot-rotated" });
    const job = findAll(created, "kubernetes:batch/v1:Job").at(-1)!;
    const env = Object.fromEntries(plain(job.inputs.spec.template.spec.containers[0].env).map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env.READER_USER).toBe("argocd-reader");
    expect(env.BOT_USER).toBe("ci-bot");
    expect(env.READER_PASSWORD).toEqual({ secretKeyRef: { name: "bootstrap-repo-credentials", key: "reader-password" } });
    expect(env.BOT_PASSWORD).toEqual({ secretKeyRef: { name: "bootstrap-repo-credentials", key: "bot-password" } });
    expect(JSON.stringify(plain(job.inputs))).not.toMatch(/reader-plaintext|bot-rotated/);
  });

  it("item 4: the Job carries pulumi.com/replaceUnready, so a failed run is replaced on the next up", async () => {
    await build({ "argocd/root.yaml": "a: 1\n" });
    const job = find(created, "kubernetes:batch/v1:Job");
    expect(plain(job.inputs.metadata.annotations)).toEqual({ "pulumi.com/replaceUnready": "true" });
    expect(bootstrapJob(jobArgs).metadata.annotations).toEqual(JOB_ANNOTATIONS);
  });
});

/**
 * A fake Gitea, just enough for the script: the API endpoints it calls (basic auth checked) and git
 * smart HTTP through the real git-http-backend, so pushes and "empty" are real.
 */
async function startFakeGitea(auth: { user: string; password: string }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gitea-"));
  // Users with passwords (the site admin first), collaborators per repository, tokens per user:
  // enough to check who may do what (#14.1), as Gitea would.
  const state = {
    orgs: [] as string[], repoOptions: {} as Record<string, any>, tokens: new Map<string, { sha: string; scopes: string[] }>(),
    secrets: {} as Record<string, string>, lastToken: "", healthChecks: 0,
    users: { [auth.user]: { password: auth.password, admin: true, email: "" } } as Record<string, { password: string; admin: boolean; email: string }>,
    collaborators: {} as Record<string, Record<string, string>>,
    /** Every request's authenticated user and route, in order. */
    requests: [] as string[],
  };
  /** The user a Basic header authenticates: by password, or by one of their tokens (any user name, e.g. oauth2). */
  const whoIs = (header: string | undefined): { user: string; byToken: boolean } | undefined => {
    const m = /^Basic (.+)$/.exec(header ?? "");
    if (!m) return undefined;
    const decoded = Buffer.from(m[1], "base64").toString();
    const i = decoded.indexOf(":");
    const [name, secret] = [decoded.slice(0, i), decoded.slice(i + 1)];
    if (state.users[name] && state.users[name].password === secret) return { user: name, byToken: false };
    for (const [key, t] of state.tokens) if (t.sha === secret) return { user: key.split("/")[0], byToken: true };
    return undefined;
  };
  const git = (repo: string, ...args: string[]) => execFileSync("git", ["--git-dir", path.join(root, `${repo}.git`), ...args], { encoding: "utf8" });
  const hasRefs = (repo: string) => git(repo, "for-each-ref").trim() !== "";
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url!, "http://x");
      const send = (status: number, json?: unknown) => { res.writeHead(status, { "Content-Type": "application/json" }); res.end(json === undefined ? "" : JSON.stringify(json)); };
      if (url.pathname === "/api/healthz") { state.healthChecks++; return send(state.healthChecks === 1 ? 503 : 200, { status: "pass" }); }
      const who = whoIs(req.headers.authorization);
      if (!who) { res.writeHead(401, { "WWW-Authenticate": 'Basic realm="fake"' }); return res.end(); }
      state.requests.push(`${who.user} ${req.method} ${url.pathname}`);
      const isAdmin = state.users[who.user].admin;
      const m = (re: RegExp) => re.exec(url.pathname);
      let g: RegExpExecArray | null;
      if (url.pathname.endsWith("/info/refs") || url.pathname.endsWith("/git-upload-pack") || url.pathname.endsWith("/git-receive-pack")) {
        // Git over HTTP: read for any collaborator, push for write collaborators (and the admin).
        const repo = /^\/(.+?)\.git\//.exec(url.pathname)?.[1] ?? "";
        const pushing = url.pathname.endsWith("/git-receive-pack") || url.searchParams.get("service") === "git-receive-pack";
        const perm = isAdmin ? "admin" : state.collaborators[repo]?.[who.user];
        if (!perm || (pushing && perm === "read")) { res.writeHead(403); return res.end("fake gitea: no access\n"); }
        const cgi = spawn("git", ["http-backend"], { env: {
          GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: "1", REMOTE_USER: who.user, PATH_INFO: url.pathname,
          REQUEST_METHOD: req.method!, QUERY_STRING: url.search.slice(1), CONTENT_TYPE: req.headers["content-type"] ?? "",
          HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""), PATH: process.env.PATH!,
        } });
        const out: Buffer[] = [];
        cgi.stdout.on("data", (d) => out.push(d));
        cgi.on("close", () => {
          const all = Buffer.concat(out);
          const split = all.indexOf("\r\n\r\n");
          const headers = all.subarray(0, split).toString().split("\r\n");
          let status = 200;
          for (const h of headers) {
            const [k, ...v] = h.split(":");
            if (k.toLowerCase() === "status") status = parseInt(v.join(":"), 10);
            else res.setHeader(k, v.join(":").trim());
          }
          res.writeHead(status);
          res.end(all.subarray(split + 4));
        });
        // http-backend may exit before reading a body it does not need (EPIPE): not an error here.
        cgi.stdin.on("error", () => undefined);
        cgi.stdin.end(body);
        return;
      }
      let input: any = {};
      try { if (body.length) input = JSON.parse(body.toString()); } catch { return send(400, { message: "fake gitea: invalid JSON body" }); }
      if (req.method === "GET" && url.pathname === "/api/v1/user") return send(200, { login: who.user });
      // Everything below but a user's own tokens is the site admin's.
      const own = /^\/api\/v1\/users\/([^/]+)\/tokens/.exec(url.pathname);
      if (own && (who.byToken || (own[1] !== who.user && !isAdmin))) return send(403, { message: "fake gitea: tokens need the user's own Basic auth" });
      if (!own && !isAdmin) return send(403, { message: "fake gitea: site admin only" });
      if ((g = m(/^\/api\/v1\/users\/([^/]+)$/)) && req.method === "GET") return state.users[g[1]] ? send(200, { login: g[1] }) : send(404);
      if (url.pathname === "/api/v1/admin/users" && req.method === "POST") {
        if (state.users[input.username]) return send(422, { message: "user already exists" });
        if (!input.email || !input.password) return send(422, { message: "email and password are required" });
        state.users[input.username] = { password: input.password, admin: false, email: input.email };
        return send(201, { login: input.username });
      }
      if ((g = m(/^\/api\/v1\/admin\/users\/([^/]+)$/)) && req.method === "PATCH") {
        const u = state.users[g[1]];
        if (!u) return send(404);
        if (!input.email || input.login_name !== g[1] || input.source_id !== 0) return send(422, { message: "email, login_name and source_id are required" });
        if (input.password) u.password = input.password;
        if (input.admin !== undefined) u.admin = input.admin;
        return send(200, { login: g[1] });
      }
      if ((g = m(/^\/api\/v1\/repos\/([^/]+\/[^/]+)\/collaborators\/([^/]+)$/)) && req.method === "PUT") {
        if (!state.users[g[2]]) return send(404);
        if (!["read", "write", "admin"].includes(input.permission)) return send(422, { message: "bad permission" });
        state.collaborators[g[1]] = { ...(state.collaborators[g[1]] ?? {}), [g[2]]: input.permission };
        return send(204);
      }
      if ((g = m(/^\/api\/v1\/orgs\/([^/]+)$/)) && req.method === "GET") return state.orgs.includes(g[1]) ? send(200, { username: g[1] }) : send(404);
      if (url.pathname === "/api/v1/orgs" && req.method === "POST") { state.orgs.push(input.username); return send(201, input); }
      if ((g = m(/^\/api\/v1\/orgs\/([^/]+)\/repos$/)) && req.method === "POST") {
        const full = `${g[1]}/${input.name}`;
        state.repoOptions[full] = input;
        execFileSync("git", ["init", "-q", "--bare", "-b", input.default_branch, path.join(root, `${full}.git`)]);
        git(full, "config", "http.receivepack", "true");
        return send(201, { full_name: full });
      }
      if ((g = m(/^\/api\/v1\/repos\/([^/]+\/[^/]+)$/))) {
        if (!state.repoOptions[g[1]]) return send(404);
        if (req.method === "PATCH") { Object.assign(state.repoOptions[g[1]], input); return send(200, {}); }
        return send(200, { full_name: g[1], empty: !hasRefs(g[1]), default_branch: state.repoOptions[g[1]].default_branch });
      }
      if ((g = m(/^\/api\/v1\/users\/([^/]+)\/tokens\/([^/]+)$/)) && req.method === "DELETE") return send(state.tokens.delete(`${g[1]}/${g[2]}`) ? 204 : 404);
      if ((g = m(/^\/api\/v1\/users\/([^/]+)\/tokens$/)) && req.method === "POST") {
        if (state.tokens.has(`${g[1]}/${input.name}`)) return send(400, { message: "token name already used" });
        state.lastToken = randomBytes(20).toString("hex");
        state.tokens.set(`${g[1]}/${input.name}`, { sha: state.lastToken, scopes: input.scopes });
        return send(201, { id: 1, name: input.name, sha1: state.lastToken, scopes: input.scopes });
      }
      if ((g = m(/^\/api\/v1\/repos\/[^/]+\/[^/]+\/actions\/secrets\/([^/]+)$/)) && req.method === "PUT") {
        const existed = g[1] in state.secrets;
        state.secrets[g[1]] = input.data;
        return send(existed ? 204 : 201);
      }
      return send(404, { message: `fake gitea: no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => { server.close(); fs.rmSync(root, { recursive: true, force: true }); },
    branches: (repo: string) => git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").trim().split("\n"),
    file: (repo: string, p: string) => git(repo, "show", `main:${p}`),
    gitDir: (repo: string) => path.join(root, `${repo}.git`),
    log: (repo: string) => git(repo, "log", "--format=%an %s", "main").trim().split("\n"),
    tree: (repo: string) => git(repo, "ls-tree", "-r", "--name-only", "main").trim().split("\n"),
    commitCount: (repo: string) => Number(git(repo, "rev-list", "--count", "main").trim()),
  };
}
