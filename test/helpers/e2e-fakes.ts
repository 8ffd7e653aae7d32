// A sandbox for running the real scripts/e2e/*.sh offline: fake kubectl, curl, pulumi, k3d, ...
// on PATH (test/helpers/e2e-fake.sh answering canned JSON), a temporary E2E_DIR, and the record of
// every call. The same stub pattern as test/install-k3s.test.ts, with rules instead of one script
// per command. Real bash, jq, git, sed, awk and sha256sum do the rest.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "./stack";

export const E2E_SCRIPTS = path.join(ROOT, "scripts/e2e");
const FAKE = path.join(__dirname, "e2e-fake.sh");

export interface FakeResponse {
  /** curl: HTTP status (0: nothing answered). @default 200 */
  readonly status?: number;
  /** curl: response body; other commands: stdout. Objects are sent as JSON. */
  readonly body?: string | object;
  readonly stdout?: string;
  readonly stderr?: string;
  /** Exit code of a non-curl command. @default 0 */
  readonly code?: number;
  /** A bash snippet whose stdout is the body. */
  readonly exec?: string;
  /** A file whose bytes are the body (binary downloads). */
  readonly file?: string;
}

export interface FakeRule {
  readonly cmd: string;
  /** Regex searched in the call's key (argv joined; for curl "METHOD URL host=... user=..."). */
  readonly match: string;
  /** Served in turn; the last one repeats. */
  readonly responses: readonly FakeResponse[];
}

export interface Call {
  readonly cmd: string;
  readonly args: string[];
  readonly key: string;
  /** Index of the rule that answered, -1 for none. */
  readonly rule: number;
  /** curl's request bodies. */
  readonly data: string[];
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export const FAKED = ["kubectl", "curl", "pulumi", "k3d", "docker"] as const;

export class Sandbox {
  readonly root: string;
  readonly bin: string;
  readonly e2eDir: string;
  private rules: FakeRule[] = [];

  constructor(fakes: readonly string[] = FAKED) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-"));
    this.bin = path.join(this.root, "bin");
    this.e2eDir = path.join(this.root, "e2e");
    fs.mkdirSync(this.bin);
    fs.mkdirSync(this.e2eDir);
    for (const cmd of fakes) {
      fs.writeFileSync(path.join(this.bin, cmd), `#!/usr/bin/env bash\nexec bash ${JSON.stringify(FAKE)} ${cmd} "$@"\n`, { mode: 0o755 });
    }
    fs.mkdirSync(path.join(this.root, "rules"));
  }

  /** Adds rules (earlier rules win), as the folders e2e-fake.sh reads. */
  on(...rules: FakeRule[]): this {
    for (const rule of rules) {
      const dir = path.join(this.root, "rules", String(this.rules.length).padStart(3, "0"));
      this.rules.push(rule);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, "cmd"), rule.cmd);
      fs.writeFileSync(path.join(dir, "match"), rule.match);
      rule.responses.forEach((r, i) => {
        const rd = path.join(dir, "responses", String(i + 1));
        fs.mkdirSync(rd, { recursive: true });
        if (r.status !== undefined) fs.writeFileSync(path.join(rd, "status"), String(r.status));
        if (r.code !== undefined) fs.writeFileSync(path.join(rd, "code"), String(r.code));
        if (r.stderr !== undefined) fs.writeFileSync(path.join(rd, "stderr"), r.stderr);
        if (r.exec !== undefined) fs.writeFileSync(path.join(rd, "exec"), r.exec);
        const body = r.file !== undefined ? fs.readFileSync(r.file) : r.body ?? r.stdout;
        if (body !== undefined) fs.writeFileSync(path.join(rd, "body"), typeof body === "object" && !Buffer.isBuffer(body) ? JSON.stringify(body) : body);
      });
    }
    return this;
  }

  write(rel: string, content: string | object, mode?: number): string {
    const file = path.join(this.e2eDir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content), mode ? { mode } : {});
    return file;
  }

  read(rel: string): string {
    const file = path.join(this.e2eDir, rel);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  calls(cmd?: string): Call[] {
    const file = path.join(this.root, "calls.log");
    if (!fs.existsSync(file)) return [];
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => {
      const [c, rule, key, data, ...args] = line.split("\x1f");
      return {
        cmd: c, key, args, rule: rule === "" ? -1 : Number(rule),
        data: data ? data.split(",").map((d) => Buffer.from(d, "base64").toString("utf8")) : [],
      };
    }).filter((c) => !cmd || c.cmd === cmd);
  }

  /** results.tsv as [id, status, detail] rows. */
  results(): string[][] {
    return this.read("results.tsv").split("\n").filter(Boolean).map((l) => l.split("\t"));
  }

  timings(): string[][] {
    return this.read("timings.tsv").split("\n").filter(Boolean).map((l) => l.split("\t"));
  }

  /** Runs scripts/e2e/<script> with the fakes first on PATH and polling every 0.1 s. */
  run(script: string, args: readonly string[] = [], env: Record<string, string> = {}, timeoutMs = 60_000): RunResult {
    const started = performance.now();
    const r = spawnSync("bash", [path.join(E2E_SCRIPTS, script), ...args], {
      encoding: "utf8",
      timeout: timeoutMs,
      env: {
        PATH: `${this.bin}:${process.env.PATH}`,
        HOME: this.root,
        FAKE_DIR: this.root,
        E2E_DIR: this.e2eDir,
        E2E_POLL_INTERVAL: "0.1",
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        ...env,
      },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started };
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** A JSON `kubectl get` answer. */
export const kube = (obj: object): FakeResponse => ({ stdout: JSON.stringify(obj) });
export const http = (status: number, body: string | object = ""): FakeResponse => ({ status, body });

export interface CiStack {
  /** `pulumi stack output --json`: what platform-up.sh writes to outputs.json (secrets hidden). */
  readonly outputs: Record<string, unknown>;
  /** `pulumi stack output credentials --show-secrets --json`. */
  readonly credentials: Record<string, { username: string; password: string }>;
  /** The bootstrap repository's files, path -> text, as the Job pushes them. */
  readonly files: Record<string, string>;
  /** The registry's NodePort Service, as `kubectl get services -n registry -o json` lists it. */
  readonly registryServices: object;
  /** The name of the root Application the stack creates. */
  readonly rootApplication: string;
}

/** The e2e stack (stacks/Pulumi.ci.yaml) evaluated under mocks: the fakes answer with its real outputs and content. */
export async function ciStack(): Promise<CiStack> {
  const { runStack } = await import("./stack");
  const { plain } = await import("./mocks");
  const run = await runStack("ci");
  const content = run.created.find((c) => c.type === "kubernetes:core/v1:ConfigMap" && String(plain(c.inputs.metadata)?.name).endsWith("bootstrap-repo-content"));
  if (!content) throw new Error("ci stack: no bootstrap-repo-content ConfigMap");
  const data = plain<Record<string, string>>(content.inputs.data);
  const files: Record<string, string> = {};
  // MANIFEST: "<key> <owned|initial> <path>" per line (components/gitops/bootstrap-repo.ts).
  for (const line of data.MANIFEST.trim().split("\n")) {
    const [key, , p] = line.split(" ");
    files[p] = data[key];
  }
  const services = run.created.filter((c) => c.type === "kubernetes:core/v1:Service" && plain(c.inputs.metadata)?.namespace === "registry")
    .map((c) => plain(c.inputs));
  return {
    outputs: { ...run.outputs, kubeconfig: "[secret]", credentials: "[secret]" },
    credentials: plain(run.outputs.credentials),
    files,
    registryServices: { apiVersion: "v1", kind: "List", items: services },
    rootApplication: plain(run.created.find((c) => c.type === "kubernetes:argoproj.io/v1alpha1:Application")?.inputs.metadata)?.name,
  };
}

