// Issue 14 / PM-10: the runner's registration token is the platform organisation's, fetched by the
// bootstrap Job from Gitea's API and applied to one Secret: the real runner-token.sh, real curl,
// against a fake Gitea and a fake Kubernetes API; and the Job's ServiceAccount and Role.
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapJob, JOB_LABELS, runnerTokenRbac, runnerTokenServiceAccount } from "../components/gitops/bootstrap-repo";
import { RUNNER_NAMESPACE, RUNNER_TOKEN_KEY, RUNNER_TOKEN_SECRET } from "../components/gitops/runner-config";
import { images } from "../components/lib/versions";
import { testContext } from "./helpers/context";
import { needs } from "./helpers/binaries";
import { allows, applyChecks } from "./helpers/rbac";

const SCRIPT = path.join(__dirname, "..", "components", "gitops", "scripts", "runner-token.sh");
const BOOTSTRAP = path.join(__dirname, "..", "components", "gitops", "scripts", "bootstrap-repo.sh");
const shellcheck = needs("shellcheck");
const curl = needs("curl");
const TARGET = { namespace: RUNNER_NAMESPACE, secretName: RUNNER_TOKEN_SECRET, key: RUNNER_TOKEN_KEY };

describe("runner-token.sh", () => {
  shellcheck.it("passes shellcheck at warning level", () => {
    const r = spawnSync(shellcheck.bin("shellcheck"), ["-S", "warning", SCRIPT], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("bootstrap-repo.sh calls it once the organisation exists, only when a target Secret is given", () => {
    const s = fs.readFileSync(BOOTSTRAP, "utf8");
    const call = s.indexOf("runner-token.sh\"; fi");
    expect(call).toBeGreaterThan(s.indexOf("read organisation $ORG"));
    expect(call).toBeLessThan(s.indexOf("# 3. Users"));
    expect(s).toContain('if [ -n "${RUNNER_TOKEN_SECRET:-}" ]; then bash');
  });
});

describe("the Job's account: that one Secret, nothing else (pure)", () => {
  it("#14 Role: the named Secret only (get, patch, and create by apply); no list, watch or other resources", () => {
    const [role, binding] = runnerTokenRbac("gitea", "bootstrap-repo-job", TARGET) as any[];
    expect(role.metadata.namespace).toBe(RUNNER_NAMESPACE);
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], resourceNames: [RUNNER_TOKEN_SECRET], verbs: ["create", "get", "patch"] }]);
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "bootstrap-repo-job", namespace: "gitea" }]);
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name });
    expect((runnerTokenServiceAccount("gitea", "bootstrap-repo-job") as any).automountServiceAccountToken).toBe(false);
  });

  it("#14 the first apply creates the Secret: the API server authorizes it as create with the name too (handlers/patch.go)", () => {
    const [role] = runnerTokenRbac("gitea", "bootstrap-repo-job", TARGET) as any[];
    for (const exists of [false, true]) {
      for (const check of applyChecks("", "secrets", RUNNER_TOKEN_SECRET, exists)) expect(allows(role.rules, check), `${check.verb} (exists: ${exists})`).toBe(true);
    }
    // resourceNames still bound it: a POST create (no name), another Secret, a list, are refused.
    expect(allows(role.rules, { verb: "create", apiGroup: "", resource: "secrets", name: "" })).toBe(false);
    expect(allows(role.rules, { verb: "create", apiGroup: "", resource: "secrets", name: "gitea-admin" })).toBe(false);
    expect(allows(role.rules, { verb: "patch", apiGroup: "", resource: "secrets", name: "gitea-admin" })).toBe(false);
    expect(allows(role.rules, { verb: "list", apiGroup: "", resource: "secrets", name: "" })).toBe(false);
  });

  it("#14 the pod mounts a token only when it writes the runner's Secret", () => {
    const base = {
      ctx: testContext("dev"), name: "bootstrap-repo-abc", namespace: "gitea", image: images.gitea, secretName: "c", scriptConfigMap: "s",
      contentConfigMap: "k", org: "platform", repo: "platform-apps", withRegistrySecret: false,
    };
    const without = (bootstrapJob(base) as any).spec.template.spec;
    expect(without.automountServiceAccountToken).toBe(false);
    expect(without.serviceAccountName).toBeUndefined();
    const withToken = (bootstrapJob({ ...base, runnerToken: { ...TARGET, serviceAccount: "bootstrap-repo-job" } }) as any).spec.template.spec;
    expect(withToken).toMatchObject({ automountServiceAccountToken: true, serviceAccountName: "bootstrap-repo-job" });
    const env = Object.fromEntries(withToken.containers[0].env.filter((e: any) => e.value).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ RUNNER_TOKEN_NAMESPACE: RUNNER_NAMESPACE, RUNNER_TOKEN_SECRET, RUNNER_TOKEN_KEY });
    expect(JOB_LABELS["app.kubernetes.io/name"]).toBe("bootstrap-repo");
  });
});

/**
 * A fake Gitea (org runner-token route) and Kubernetes API (server-side apply of one Secret), which
 * authorizes the apply against the Job's Role as the API server does (helpers/rbac.ts).
 */
async function startFakes(opts: { postRouted: boolean; orgOwner: boolean }) {
  const [role] = runnerTokenRbac("gitea", "bootstrap-repo-job", TARGET) as any[];
  const state = { giteaRequests: [] as string[], applies: [] as { url: string; type: string; auth: string; body: any }[], secret: undefined as any, token: "OrgRunnerToken0123456789abcdefABCDEF0123" };
  const expected = `Basic ${Buffer.from("platform-admin:pw with space").toString("base64")}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url!, "http://x");
      const send = (status: number, json?: unknown) => { res.writeHead(status, { "Content-Type": "application/json" }); res.end(json === undefined ? "" : JSON.stringify(json)); };
      if (url.pathname.startsWith("/api/v1/orgs/")) {
        state.giteaRequests.push(`${req.method} ${url.pathname}`);
        if (req.headers.authorization !== expected) return send(401);
        if (url.pathname !== "/api/v1/orgs/platform/actions/runners/registration-token") return send(404, { message: "no route" });
        if (req.method === "POST" && !opts.postRouted) return send(405);
        if (!opts.orgOwner) return send(403, { message: "Must be an organization owner" });
        return send(200, { token: state.token });
      }
      if (url.pathname === `/api/v1/namespaces/${RUNNER_NAMESPACE}/secrets/${RUNNER_TOKEN_SECRET}` && req.method === "PATCH") {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        state.applies.push({ url: req.url!, type: String(req.headers["content-type"]), auth: String(req.headers.authorization), body });
        const created = state.secret === undefined;
        const denied = applyChecks("", "secrets", RUNNER_TOKEN_SECRET, !created).find((c) => !allows(role.rules, c));
        if (denied) {
          return send(403, { kind: "Status", reason: "Forbidden", message: `secrets "${RUNNER_TOKEN_SECRET}" is forbidden: cannot ${denied.verb} resource "secrets"` });
        }
        state.secret = body;
        return send(created ? 201 : 200, body);
      }
      return send(404, { message: `no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, state, close: () => server.close() };
}

function run(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", [SCRIPT], { env: { PATH: process.env.PATH!, ...env } });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => { clearTimeout(timer); resolve({ code: code ?? -1, out }); });
  });
}

curl.describe("runner-token.sh against a fake Gitea and Kubernetes API (real curl)", () => {
  let root: string;
  let sa: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "runner-token-"));
    sa = path.join(root, "sa");
    fs.mkdirSync(sa);
    fs.writeFileSync(path.join(sa, "token"), "sa-jwt-token");
    fs.writeFileSync(path.join(sa, "ca.crt"), "unused over http\n");
  });
  afterAll(() => { if (root) fs.rmSync(root, { recursive: true, force: true }); });
  const env = (url: string) => ({
    GITEA_URL: url, GITEA_USER: "platform-admin", GITEA_PASSWORD: "pw with space", ORG: "platform", KUBE_API: url, KUBE_SA_DIR: sa,
    RUNNER_TOKEN_NAMESPACE: RUNNER_NAMESPACE, RUNNER_TOKEN_SECRET, RUNNER_TOKEN_KEY, TMPDIR: root,
  });

  it("PM-10 #14 applies the org's token (POST) to the one Secret; a second run applies the same Secret again", async () => {
    const f = await startFakes({ postRouted: true, orgOwner: true });
    try {
      const first = await run(env(f.url));
      expect(first.out).toContain(`is in Secret ${RUNNER_NAMESPACE}/${RUNNER_TOKEN_SECRET}`);
      expect(first.code).toBe(0);
      expect(f.state.giteaRequests).toEqual(["POST /api/v1/orgs/platform/actions/runners/registration-token"]);
      const [apply] = f.state.applies;
      expect(apply.type).toBe("application/apply-patch+yaml");
      expect(apply.auth).toBe("Bearer sa-jwt-token");
      expect(apply.url).toContain("fieldManager=bootstrap-repo&force=true");
      expect(apply.body).toEqual({
        apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: RUNNER_TOKEN_SECRET, namespace: RUNNER_NAMESPACE },
        data: { [RUNNER_TOKEN_KEY]: Buffer.from(f.state.token).toString("base64") },
      });
      const second = await run(env(f.url));
      expect(second.code).toBe(0);
      expect(f.state.applies[1].body).toEqual(apply.body);
      // Neither the token, the password nor the ServiceAccount token reach the output.
      for (const s of [f.state.token, "pw with space", "sa-jwt-token"]) expect(first.out + second.out).not.toContain(s);
    } finally { f.close(); }
  });

  it("#14 falls back to GET where POST is not routed (Gitea before the POST route)", async () => {
    const f = await startFakes({ postRouted: false, orgOwner: true });
    try {
      const r = await run(env(f.url));
      expect(r.code).toBe(0);
      expect(f.state.giteaRequests).toEqual([
        "POST /api/v1/orgs/platform/actions/runners/registration-token", "GET /api/v1/orgs/platform/actions/runners/registration-token",
      ]);
      expect(f.state.applies).toHaveLength(1);
    } finally { f.close(); }
  });

  it("#14 fails naming the organisation when Gitea refuses, and writes nothing", async () => {
    const f = await startFakes({ postRouted: true, orgOwner: false });
    try {
      const r = await run(env(f.url));
      expect(r.code).not.toBe(0);
      expect(r.out).toContain("registration token of organisation platform: HTTP 403");
      expect(f.state.applies).toEqual([]);
    } finally { f.close(); }
  });
});
