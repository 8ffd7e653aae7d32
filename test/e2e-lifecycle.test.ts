// The e2e workflow's lifecycle scripts against fakes: installing the pinned tools with checksums,
// freeing disk, pulumi up / preview / destroy on a local file backend, diagnostics on failure (with
// every generated password redacted) and the job summary.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "crypto";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { versions } from "../components/lib/versions";
import { ciStack, CiStack, E2E_SCRIPTS, http, kube, Sandbox } from "./helpers/e2e-fakes";
import { needs } from "./helpers/binaries";
import { ROOT } from "./helpers/stack";

// The scripts run for real with bash, jq and git (base tools for the rest).
const e2eTools = needs("jq", "git");
const boxes: Sandbox[] = [];
let stack: CiStack;
beforeAll(async () => { if (!e2eTools.reason) stack = await ciStack(); }, 60_000);
afterAll(() => { for (const b of boxes) b.cleanup(); });
const sandbox = (fakes?: string[]) => { const b = new Sandbox(fakes); boxes.push(b); return b; };
const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const INSTALL = fs.readFileSync(path.join(E2E_SCRIPTS, "install-tools.sh"), "utf8");
/** The checksum table in install-tools.sh: [tool, version, arch, sha256]. */
const SUMS = /^SUMS="([^"]*)"/m.exec(INSTALL)![1].trim().split("\n").map((l) => l.trim().split(/\s+/));

describe("install-tools.sh: the pins it verifies", () => {
  it("has a sha256 for every tool versions.ts pins, for amd64 and arm64", () => {
    for (const [tool, version] of [["k3d", versions.k3d], ["kubectl", versions.kubectl], ["pulumi", versions.pulumiCli]]) {
      for (const arch of ["amd64", "arm64"]) {
        const line = SUMS.find((s) => s[0] === tool && s[1] === version && s[2] === arch);
        expect(line, `${tool} ${version} ${arch}`).toBeDefined();
        expect(line![3]).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    expect(new Set(SUMS.map((s) => s[3])).size).toBe(SUMS.length);
  });

  it("the Pulumi CLI is the @pulumi/pulumi release the lockfile has; kubectl is K3s's minor", () => {
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
    expect(versions.pulumiCli).toBe(`v${lock.packages["node_modules/@pulumi/pulumi"].version}`);
    expect(versions.kubectl.split(".").slice(0, 2)).toEqual(versions.k3s.split(".").slice(0, 2));
  });
});

e2eTools.describe("e2e lifecycle scripts against fakes", () => {
  describe("install-tools.sh", () => {
    /** Stub downloads that print the pinned versions, and a checksum table for them. */
    function downloads(b: Sandbox) {
      const dir = path.join(b.root, "dl");
      fs.mkdirSync(path.join(dir, "pulumi"), { recursive: true });
      fs.writeFileSync(path.join(dir, "k3d"), `#!/usr/bin/env bash\necho "k3d version ${versions.k3d}"\necho "k3s version v1.35.9-k3s1 (default)"\n`);
      fs.writeFileSync(path.join(dir, "kubectl"), `#!/usr/bin/env bash\necho "Client Version: ${versions.kubectl}"\n`);
      fs.writeFileSync(path.join(dir, "pulumi/pulumi"), `#!/usr/bin/env bash\necho "${versions.pulumiCli}"\n`, { mode: 0o755 });
      fs.writeFileSync(path.join(dir, "pulumi/pulumi-language-nodejs"), "#!/usr/bin/env bash\n", { mode: 0o755 });
      execFileSync("tar", ["-czf", path.join(dir, "pulumi.tgz"), "-C", dir, "pulumi"]);
      const sums = ["amd64", "arm64"].flatMap((arch) => [
        `k3d ${versions.k3d} ${arch} ${sha256(path.join(dir, "k3d"))}`,
        `kubectl ${versions.kubectl} ${arch} ${sha256(path.join(dir, "kubectl"))}`,
        `pulumi ${versions.pulumiCli} ${arch} ${sha256(path.join(dir, "pulumi.tgz"))}`,
      ]);
      fs.writeFileSync(path.join(b.root, "sums"), `${sums.join("\n")}\n`);
      b.on(
        { cmd: "curl", match: "/k3d-linux-", responses: [{ file: path.join(dir, "k3d") }] },
        { cmd: "curl", match: "/kubectl$", responses: [{ file: path.join(dir, "kubectl") }] },
        { cmd: "curl", match: "/pulumi-v", responses: [{ file: path.join(dir, "pulumi.tgz") }] },
      );
      return { bin: path.join(b.root, "tools"), sums: path.join(b.root, "sums"), githubPath: path.join(b.root, "github_path") };
    }

    it("downloads the versions.ts pins for the runner's arch, verifies them and installs them on GITHUB_PATH", () => {
      for (const [machine, arch, parch] of [["x86_64", "amd64", "x64"], ["aarch64", "arm64", "arm64"]]) {
        const b = sandbox(["curl", "uname"]);
        const d = downloads(b);
        b.on({ cmd: "uname", match: "^-m$", responses: [{ stdout: `${machine}\n` }] });
        const r = b.run("install-tools.sh", [], { E2E_BIN: d.bin, E2E_TOOL_SUMS: d.sums, GITHUB_PATH: d.githubPath });
        expect(r.status, r.stderr).toBe(0);
        expect(b.calls("curl").map((c) => c.key)).toEqual([
          `GET https://github.com/k3d-io/k3d/releases/download/${versions.k3d}/k3d-linux-${arch}`,
          `GET https://dl.k8s.io/release/${versions.kubectl}/bin/linux/${arch}/kubectl`,
          `GET https://github.com/pulumi/pulumi/releases/download/${versions.pulumiCli}/pulumi-${versions.pulumiCli}-linux-${parch}.tar.gz`,
        ]);
        expect(fs.readdirSync(d.bin).sort()).toEqual(["k3d", "kubectl", "pulumi", "pulumi-language-nodejs"]);
        expect(fs.readFileSync(d.githubPath, "utf8")).toBe(`${d.bin}\n`);
        expect(b.results()).toEqual([["install-tools", "pass", `k3d ${versions.k3d}, kubectl ${versions.kubectl}, pulumi ${versions.pulumiCli} (${arch}), sha256 verified`]]);
      }
    });

    it("refuses a download whose sha256 is not the pinned one, and installs nothing", () => {
      const b = sandbox(["curl", "uname"]);
      const d = downloads(b);
      b.on({ cmd: "uname", match: "-m", responses: [{ stdout: "x86_64\n" }] });
      const r = b.run("install-tools.sh", [], { E2E_BIN: d.bin });
      expect(r.status).toBe(1);
      const pinned = SUMS.find((s) => s[0] === "k3d" && s[2] === "amd64")![3];
      expect(r.stderr).toContain(`k3d ${versions.k3d} (amd64): sha256 ${sha256(path.join(b.root, "dl/k3d"))}, pinned ${pinned}: refusing`);
      expect(fs.existsSync(path.join(d.bin, "k3d"))).toBe(false);
    });

    it("fails, naming it, for a version without a pinned sha256 and for an unknown architecture", () => {
      const b = sandbox(["curl", "uname"]);
      const d = downloads(b);
      fs.writeFileSync(d.sums, fs.readFileSync(d.sums, "utf8").split("\n").filter((l) => !l.startsWith("kubectl")).join("\n"));
      b.on({ cmd: "uname", match: "-m", responses: [{ stdout: "x86_64\n" }] });
      expect(b.run("install-tools.sh", [], { E2E_BIN: d.bin, E2E_TOOL_SUMS: d.sums }).stderr)
        .toContain(`no sha256 pinned for kubectl ${versions.kubectl} (amd64): add it to scripts/e2e/install-tools.sh`);
      const riscv = sandbox(["curl", "uname"]);
      riscv.on({ cmd: "uname", match: "-m", responses: [{ stdout: "riscv64\n" }] });
      expect(riscv.run("install-tools.sh", [], { E2E_BIN: d.bin }).stderr).toContain("no pinned tools for riscv64");
    });
  });

  it("free-disk.sh removes the listed toolchains that exist, prunes Docker images and reports the space", () => {
    const b = sandbox(["docker"]);
    b.on({ cmd: "docker", match: "^image prune --all --force$", responses: [{ stdout: "" }] });
    for (const d of ["android/sdk", "ghc-9.8/lib"]) fs.mkdirSync(path.join(b.root, "tc", d), { recursive: true });
    fs.writeFileSync(path.join(b.root, "tc/android/sdk/big"), "x".repeat(1000));
    const list = `${b.root}/tc/android ${b.root}/tc/ghc-* ${b.root}/tc/missing`;
    const r = b.run("free-disk.sh", [], { FREE_DISK_PATHS: list });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(path.join(b.root, "tc"))).toEqual([]);
    expect(b.calls("docker")).toHaveLength(1);
    expect(b.results()[0][2]).toMatch(new RegExp(`^\\d+ GB -> \\d+ GB free on /; removed: ${b.root}/tc/android ${b.root}/tc/ghc-9.8$`));
    expect(b.timings()[0][0]).toBe("free disk space");
  });

  describe("platform-up.sh, platform-preview.sh, platform-destroy.sh", () => {
    const KUBECONFIG = "apiVersion: v1\nkind: Config\n";
    function pulumi(b: Sandbox, up = 0) {
      return b.on(
        { cmd: "pulumi", match: "^login file://", responses: [{ stdout: "Logged in\n" }] },
        { cmd: "pulumi", match: "^stack select --create ci --non-interactive$", responses: [{ stdout: "" }] },
        { cmd: "pulumi", match: "^up --yes --skip-preview --non-interactive --suppress-progress --stack ci$", responses: [{ code: up, stderr: up ? "error: update failed\n" : "" }] },
        { cmd: "pulumi", match: "^stack output --json --stack ci$", responses: [{ stdout: JSON.stringify(stack.outputs) }] },
        { cmd: "pulumi", match: "^stack output kubeconfig --show-secrets --stack ci$", responses: [{ stdout: KUBECONFIG }] },
        { cmd: "pulumi", match: "^stack output credentials --show-secrets --json --stack ci$", responses: [{ stdout: JSON.stringify(stack.credentials) }] },
        { cmd: "kubectl", match: "^get nodes", responses: [{ stdout: "k3d-e2e-server-0 Ready\n" }] },
      );
    }

    it("up: logs in to a local file backend, creates the stack, records the time and writes outputs, kubeconfig and credentials 0600, masked", () => {
      const b = pulumi(sandbox());
      const env = path.join(b.root, "github_env");
      const r = b.run("platform-up.sh", [], { PULUMI_CONFIG_PASSPHRASE: "p", GITHUB_ACTIONS: "true", GITHUB_ENV: env, E2E_STACK: "ci" });
      expect(r.status, r.stderr).toBe(0);
      expect(b.calls("pulumi")[0].args).toEqual(["login", `file://${b.e2eDir}/state`]);
      expect(fs.existsSync(path.join(b.e2eDir, "state"))).toBe(true);
      expect(JSON.parse(b.read("outputs.json"))).toEqual(stack.outputs);
      expect(JSON.parse(b.read("credentials.json"))).toEqual(stack.credentials);
      expect(b.read("kubeconfig")).toBe(KUBECONFIG);
      for (const f of ["credentials.json", "kubeconfig"]) expect((fs.statSync(path.join(b.e2eDir, f)).mode & 0o777).toString(8), f).toBe("600");
      const masks = r.stdout.split("\n").filter((l) => l.startsWith("::add-mask::")).sort();
      expect(masks).toEqual(Object.values(stack.credentials).map((c) => `::add-mask::${c.password}`).sort());
      expect(fs.readFileSync(env, "utf8")).toBe(`KUBECONFIG=${b.e2eDir}/kubeconfig\n`);
      expect(b.timings()[0][0]).toBe("time to platform: pulumi up (k3d cluster and every component)");
      expect(b.read("up-started")).toMatch(/^\d+\n$/);
      expect(b.results()[0].slice(0, 2)).toEqual(["platform-up", "pass"]);
    });

    it("up: a failed pulumi up fails the step and leaves no credentials; no passphrase, no pulumi", () => {
      const b = pulumi(sandbox(), 255);
      const r = b.run("platform-up.sh", [], { PULUMI_CONFIG_PASSPHRASE: "p" });
      expect(r.status).toBe(1);
      expect(b.results()[0]).toEqual(["platform-up", "fail", expect.stringMatching(/^pulumi up failed after \d+s$/)]);
      expect(b.read("credentials.json")).toBe("");
      const nopass = pulumi(sandbox());
      const r2 = nopass.run("platform-up.sh");
      expect(r2.status).not.toBe(0);
      expect(r2.stderr).toContain("PULUMI_CONFIG_PASSPHRASE is required");
      expect(nopass.calls("pulumi")).toEqual([]);
    });

    it("preview: --expect-no-changes passes when empty and fails, naming why, on any change", () => {
      const ok = sandbox().on({ cmd: "pulumi", match: "^preview --expect-no-changes --diff --non-interactive --suppress-progress --stack ci$", responses: [{ stdout: "no changes\n" }] });
      expect(ok.run("platform-preview.sh").status).toBe(0);
      expect(ok.results()[0]).toEqual(["no-changes", "pass", "pulumi preview --expect-no-changes: the second up is empty"]);
      const changed = sandbox().on({ cmd: "pulumi", match: "^preview", responses: [{ code: 255, stderr: "error: no changes were expected but changes were proposed\n" }] });
      const r = changed.run("platform-preview.sh");
      expect(r.status).toBe(1);
      expect(changed.results()[0][2]).toContain("a second pulumi up would not be empty");
    });

    it("destroy: destroys the stack, is a no-op without one, and fails when destroy fails", () => {
      const none = sandbox().on({ cmd: "pulumi", match: "^stack select ci", responses: [{ code: 255, stderr: "no stack named 'ci' found\n" }] });
      expect(none.run("platform-destroy.sh").status).toBe(0);
      expect(none.calls("pulumi").map((c) => c.args[0])).toEqual(["stack"]);
      const ok = sandbox().on({ cmd: "pulumi", match: "^stack select ci", responses: [{}] }, { cmd: "pulumi", match: "^destroy --yes --skip-preview --non-interactive --suppress-progress --stack ci$", responses: [{}] });
      expect(ok.run("platform-destroy.sh").status).toBe(0);
      expect(ok.timings()[0][0]).toBe("pulumi destroy");
      const bad = sandbox().on({ cmd: "pulumi", match: "^stack select", responses: [{}] }, { cmd: "pulumi", match: "^destroy", responses: [{ code: 255 }] });
      expect(bad.run("platform-destroy.sh").status).toBe(1);
      expect(bad.results()[0][1]).toBe("fail");
    });
  });

  describe("diagnostics.sh", () => {
    const pod = (ns: string, name: string, phase: string, ready: boolean, restarts = 0) => ({
      metadata: { namespace: ns, name }, status: { phase, containerStatuses: [{ name: "c", ready, restartCount: restarts }] },
    });

    it("describes and logs the failing pods only, collects Gitea's runs, redacts every password and never reads a Secret", () => {
      const b = sandbox(["kubectl", "curl", "docker", "k3d"]);
      b.write("outputs.json", stack.outputs);
      b.write("credentials.json", stack.credentials, 0o600);
      b.write("results.tsv", "PM-05\tfail\tguest login rejected\n");
      const secret = stack.credentials.registry.password;
      b.on(
        { cmd: "kubectl", match: "get pods -A -o json", responses: [kube({ items: [
          pod("gitea-runner", "runner-0", "Running", false, 3), pod("gitea", "gitea-0", "Running", true), pod("gitea", "bootstrap-x", "Succeeded", false),
          pod("sample-app", "sample-api-1", "Pending", false),
        ] })] },
        { cmd: "kubectl", match: " logs ", responses: [{ stdout: `starting\nlogin with ${secret} ok\n` }] },
        { cmd: "kubectl", match: ".", responses: [{ stdout: "listed\n" }] },
        { cmd: "curl", match: "/actions/runs\\?limit=20", responses: [http(200, { workflow_runs: [{ id: 5 }] })] },
        { cmd: "curl", match: "/actions/runs/5/jobs", responses: [http(200, { jobs: [{ id: 9 }] })] },
        { cmd: "curl", match: "/actions/jobs/9/logs", responses: [http(200, `docker login ${secret}\n`)] },
        { cmd: "docker", match: ".", responses: [{ stdout: "CONTAINER ID\n" }] },
        { cmd: "k3d", match: ".", responses: [{ stdout: "e2e 1/1\n" }] },
      );
      const r = b.run("diagnostics.sh");
      expect(r.status, r.stderr).toBe(0);
      const out = path.join(b.e2eDir, "diagnostics");
      expect(fs.readdirSync(path.join(out, "pods")).sort()).toEqual([
        "gitea-runner.runner-0.describe.txt", "gitea-runner.runner-0.log", "gitea-runner.runner-0.previous.log",
        "sample-app.sample-api-1.describe.txt", "sample-app.sample-api-1.log",
      ]);
      expect(execFileSync("bash", ["-c", `grep -rlF -- ${JSON.stringify(secret)} ${JSON.stringify(out)} || true`], { encoding: "utf8" })).toBe("");
      expect(fs.readFileSync(path.join(out, "pods/gitea-runner.runner-0.log"), "utf8")).toBe("starting\nlogin with [redacted] ok\n");
      expect(fs.readFileSync(path.join(out, "gitea-run-5-job-9.log"), "utf8")).toBe("docker login [redacted]\n");
      expect(fs.readFileSync(path.join(out, "results.tsv"), "utf8")).toContain("guest login rejected");
      for (const c of b.calls("kubectl")) expect(c.args.join(" ")).not.toMatch(/\bsecrets?\b/);
      expect(b.calls("kubectl").some((c) => c.args.includes("applications.argoproj.io"))).toBe(true);
      expect(b.calls("kubectl").some((c) => c.args.includes("analysisruns.argoproj.io"))).toBe(true);
    });

    it("never fails, even when nothing answers", () => {
      const b = sandbox(["kubectl", "curl", "docker", "k3d"]);
      b.on({ cmd: "kubectl", match: ".", responses: [{ code: 1, stderr: "The connection to the server was refused" }] });
      const r = b.run("diagnostics.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(fs.readFileSync(path.join(b.e2eDir, "diagnostics/events.txt"), "utf8")).toContain("(exit 1)");
    });
  });

  describe("summary.sh", () => {
    it("renders every check and timing into the job summary", () => {
      const b = sandbox([]);
      b.write("results.tsv", "platform-up\tpass\tpulumi up of stack ci (dev) in 812s\nPM-05\tfail\tguest sync: HTTP 200 | want 403\n");
      b.write("timings.tsv", "time to platform: pulumi up\t812\t\ngood: push to Rollout Healthy\t45\t0.1.1-main.2\nbroken\tx\t\n");
      const summary = path.join(b.root, "summary.md");
      fs.writeFileSync(summary, "earlier step\n");
      const r = b.run("summary.sh", [], { GITHUB_STEP_SUMMARY: summary, E2E_TITLE: "e2e on k3d (ubuntu-24.04-arm)" });
      expect(r.status, r.stderr).toBe(0);
      expect(fs.readFileSync(summary, "utf8")).toBe(`earlier step
## e2e on k3d (ubuntu-24.04-arm)

1 passed, 1 failed

| check | result | detail |
|---|---|---|
| platform-up | ✅ pass | pulumi up of stack ci (dev) in 812s |
| PM-05 | ❌ fail | guest sync: HTTP 200 \\| want 403 |

### Timings

| phase | time | detail |
|---|---|---|
| time to platform: pulumi up | 13m 32s |  |
| good: push to Rollout Healthy | 45s | 0.1.1-main.2 |
`);
    });

    it("says so when nothing was recorded, and never fails", () => {
      const b = sandbox([]);
      const r = b.run("summary.sh");
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("No check recorded a result.");
      expect(r.stdout).toContain("No timing recorded.");
    });
  });
});
