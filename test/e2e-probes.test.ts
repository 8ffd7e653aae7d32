// The e2e workflow's post-mortem probes (scripts/e2e/probe-*.sh, argocd-apps.sh, lib.sh), run for
// real against fake kubectl and curl that answer canned JSON: the success, timeout and failure
// paths of each, and the rows they leave for the job summary. The fakes answer with the e2e stack's
// real outputs (stacks/Pulumi.ci.yaml evaluated under mocks) and the bootstrap repository's content.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { BOOTSTRAP_ORG, BOOTSTRAP_REPO } from "../components/gitops/bootstrap-repo";
import { API_NAME, SAMPLE_APP_NAMESPACE, sampleAppManifests } from "../components/apps/sample-app";
import { KSM_NAME } from "../components/monitoring/kube-state-metrics";
import { PROMETHEUS_RELEASE } from "../components/monitoring/prometheus";
import { ciStack, CiStack, E2E_SCRIPTS, http, kube, Sandbox } from "./helpers/e2e-fakes";
import { needs } from "./helpers/binaries";
import { testContext } from "./helpers/context";

// The scripts run for real with bash, jq and git (base tools for the rest).
const e2eTools = needs("jq", "git");
// Every gateway request goes to loopback (--connect-to) under the host's own https URL (components/tls).
const gw = (h: string) => `https://${h}.platform.localhost:8443`;
const API = "http://127.0.0.1:30300/api/v1/repos/platform/platform-apps";
const IMAGE = "registry.platform.internal:5000/platform/sample-api";
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** curl --data-urlencode: everything but the unreserved characters is percent-encoded. */
const curlEncode = (s: string) => [...Buffer.from(s)].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");

let stack: CiStack;
const boxes: Sandbox[] = [];
beforeAll(async () => { if (!e2eTools.reason) stack = await ciStack(); }, 60_000);
afterAll(() => { for (const b of boxes) b.cleanup(); });

/** A sandbox with the stack's outputs and credentials where platform-up.sh leaves them. */
function box(): Sandbox {
  const b = new Sandbox();
  b.write("outputs.json", stack.outputs);
  b.write("credentials.json", stack.credentials, 0o600);
  boxes.push(b);
  return b;
}
const row = (b: Sandbox, id: string) => b.results().filter((r) => r[0] === id);

e2eTools.describe("e2e probes against fakes", () => {
  describe("lib.sh", () => {
    const lib = path.join(E2E_SCRIPTS, "lib.sh");
    const shell = (b: Sandbox, script: string, env: Record<string, string> = {}) => spawnSync("bash", ["-c", `source ${JSON.stringify(lib)}\n${script}`], {
      encoding: "utf8", env: { PATH: `${b.bin}:${process.env.PATH}`, HOME: b.root, FAKE_DIR: b.root, E2E_DIR: b.e2eDir, E2E_POLL_INTERVAL: "0.05", ...env },
    });

    it("its names are the ones the stack creates (one source: the TypeScript constants)", () => {
      const b = box();
      const r = shell(b, "printf '%s\\n' \"$E2E_ORG\" \"$E2E_REPO\" \"$E2E_ARGOCD_NS\" \"$E2E_APP_NS\" \"$E2E_ROLLOUT\" \"$E2E_STABLE_SVC\" \"$E2E_CANARY_SVC\" \"$E2E_MONITORING_NS\" \"$E2E_REGISTRY_NS\" \"$E2E_MESH_NS\" \"$E2E_APP\"");
      const ctx = testContext("dev");
      const objects = sampleAppManifests({ ctx });
      const rollout = objects.find((o) => o.kind === "Rollout")!;
      const strategy = (rollout.spec as any).strategy.canary;
      expect(r.stdout.trim().split("\n")).toEqual([
        BOOTSTRAP_ORG, BOOTSTRAP_REPO, ctx.endpoints.argocd.namespace, SAMPLE_APP_NAMESPACE, API_NAME,
        strategy.stableService, strategy.canaryService, ctx.endpoints.prometheus.namespace, ctx.endpoints.registry.namespace,
        ctx.endpoints.kiali.namespace, YAML.parse(stack.files["argocd/sample-app.yaml"]).metadata.name,
      ]);
      // argocd-apps.sh waits for these two Applications by name: the root the stack creates and the app in Git.
      expect(fs.readFileSync(path.join(E2E_SCRIPTS, "argocd-apps.sh"), "utf8")).toContain('expect="${E2E_EXPECT_APPS:-root $E2E_APP}"');
      expect(stack.rootApplication).toBe("root");
      expect(strategy.trafficRouting.istio.virtualService.name).toBe(API_NAME);
      // probe-monitoring.sh names these Deployments.
      const monitoring = fs.readFileSync(path.join(E2E_SCRIPTS, "probe-monitoring.sh"), "utf8");
      expect(monitoring).toContain(`|${KSM_NAME}|`);
      expect(monitoring).toContain(`|${PROMETHEUS_RELEASE}-server|`);
      expect(monitoring).toContain(`|${ctx.endpoints.kiali.service}|`);
    });

    it("load_outputs derives every address from the stack outputs (gateway and NodePorts on loopback)", () => {
      const r = shell(box(), "load_outputs; printf '%s\\n' \"$E2E_ENVIRONMENT\" \"$GATEWAY\" \"$HOST_GIT\" \"$HOST_APP\" \"$GITEA_API\" \"$REGISTRY_HOST\"");
      expect(r.stderr).toBe("");
      expect(r.stdout.trim().split("\n")).toEqual([
        "dev", "127.0.0.1:8443", "git.platform.localhost:8443", "app.platform.localhost:8443", "http://127.0.0.1:30300", "registry.platform.internal:5000",
      ]);
    });

    it("#13 gateway requests go over HTTPS to loopback, trusting the platform CA from the stack outputs", () => {
      const r = shell(box(), "load_outputs; printf '%s\\n' \"${GW_CURL[@]}\"; head -n 1 \"$E2E_CA\"");
      expect(r.stderr).toBe("");
      const lines = r.stdout.trim().split("\n");
      expect(lines.slice(0, 3)).toEqual(["--connect-to", "::127.0.0.1:8443", "--cacert"]);
      expect(lines[3]).toMatch(/platform-ca\.crt$/);
      expect(lines[4]).toBe("-----BEGIN CERTIFICATE-----");
    });

    it("poll stops at its deadline naming what it waited for and the last state; a fatal check stops at once", () => {
      const b = box();
      const slow = shell(b, "E2E_PROBE=t; c() { LAST=\"phase=Progressing\"; return 1; }; poll 1 \"the thing\" c");
      expect(slow.status).toBe(1);
      expect(slow.stderr).toContain("t: FAIL: the thing: not done within 1s (last seen: phase=Progressing)");
      const fatal = shell(b, "E2E_PROBE=t2; c() { LAST=\"aborted\"; return 2; }; poll 100 \"the thing\" c");
      expect(fatal.status).toBe(1);
      expect(fatal.stderr).toContain("t2: FAIL: the thing: aborted");
      expect(row(b, "t2")).toEqual([["t2", "fail", "the thing: aborted"]]);
      const ok = shell(b, "n=0; c() { n=$((n+1)); [ $n -ge 3 ]; }; poll 10 thing c && echo done-after-$n");
      expect(ok.stdout.trim()).toBe("done-after-3");
    });

    it("http prints 000 when nothing answers; auth_file keeps any password out of argv", () => {
      const b = box();
      expect(shell(b, "http GET http://127.0.0.1:9/").stdout).toBe("000");
      const password = `pa ss"\\#'$x`;
      b.on({ cmd: "curl", match: "^GET http://h/ user=admin$", responses: [http(200, "ok")] });
      const r = shell(b, `f="$(auth_file t admin ${JSON.stringify(password).replace(/\$/g, "\\$")})"; stat -c %a "$f"; http GET http://h/ -K "$f"`);
      expect(r.stdout).toBe("600\n200");
      expect(JSON.stringify(b.calls("curl").map((c) => c.args))).not.toContain("pa ss");
    });
  });

  describe("argocd-apps.sh", () => {
    const app = (name: string, sync: string, health: string, message?: string) => ({
      metadata: { name }, status: { sync: { status: sync }, health: { status: health }, ...(message ? { operationState: { message } } : {}) },
    });
    const list = (...items: object[]) => kube({ items });

    it("passes once every Application, the expected ones included, is Synced and Healthy", () => {
      const b = box().on({ cmd: "kubectl", match: "get applications.argoproj.io", responses: [
        list(app("root", "Synced", "Healthy")),
        list(app("root", "Synced", "Healthy"), app("sample-app", "Synced", "Progressing")),
        list(app("root", "Synced", "Healthy"), app("sample-app", "Synced", "Healthy")),
      ] });
      b.write("up-started", String(Math.floor(Date.now() / 1000) - 600));
      const r = b.run("argocd-apps.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(b.calls("kubectl").length).toBe(3);
      expect(b.calls("kubectl")[0].args).toEqual(["-n", "argocd", "get", "applications.argoproj.io", "-o", "json", "--request-timeout=30s"]);
      expect(row(b, "argocd-apps")[0][1]).toBe("pass");
      expect(row(b, "argocd-apps")[0][2]).toContain("root, sample-app");
      const timings = b.timings().map((t) => t[0]);
      expect(timings).toEqual(expect.arrayContaining(["Argo CD Applications Synced and Healthy (after pulumi up)", "time to a delivered app: pulumi up start to every Application Healthy"]));
    });

    it("times out within its bound, naming the Application that is not Healthy and why", () => {
      const b = box().on({ cmd: "kubectl", match: "get applications", responses: [
        list(app("root", "Synced", "Healthy"), app("sample-app", "OutOfSync", "Degraded", "one or more objects failed to apply")),
      ] });
      const r = b.run("argocd-apps.sh", [], { E2E_APPS_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.ms).toBeLessThan(10_000);
      expect(r.stderr).toContain("not done within 1s (last seen: sample-app OutOfSync/Degraded (one or more objects failed to apply))");
      expect(row(b, "argocd-apps")[0][1]).toBe("fail");
    });

    it("fails when kubectl never answers, and never passes on an empty list", () => {
      const failing = box().on({ cmd: "kubectl", match: ".", responses: [{ code: 1, stderr: "connection refused" }] });
      expect(failing.run("argocd-apps.sh", [], { E2E_APPS_TIMEOUT: "1" }).stderr).toContain("last seen: kubectl get applications failed");
      const empty = box().on({ cmd: "kubectl", match: ".", responses: [list()] });
      const r = empty.run("argocd-apps.sh", [], { E2E_APPS_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("not created yet: root sample-app");
    });
  });

  describe("probe-release-run.sh (PM-01, PM-03, PM-13, PM-24)", () => {
    const run = (status: string, conclusion = "", n = 1) => ({ id: 10 + n, run_number: n, head_sha: "c0ffee".padEnd(40, "0"), status, conclusion, html_url: `http://git/runs/${n}` });
    const tag = "0.1.0-main.1";
    const bumped = () => stack.files["deploy/dev/rollout.yaml"].replace(`image: ${IMAGE}:0.1.0`, `image: ${IMAGE}:${tag}`);
    function gitea(b: Sandbox, runs: object[][], opts: { manifest?: string; anonymous?: number; tags?: string[] } = {}) {
      return b.on(
        { cmd: "curl", match: `^GET ${esc(API)}/actions/runs\\?limit=50 user=platform-admin$`, responses: runs.map((r) => http(200, { total_count: r.length, workflow_runs: r })) },
        { cmd: "curl", match: `/raw/\\.gitea/workflows/release\\.yaml\\?ref=c0ffee`, responses: [http(200, stack.files[".gitea/workflows/release.yaml"])] },
        { cmd: "curl", match: "/raw/app/VERSION\\?ref=c0ffee", responses: [http(200, stack.files["app/VERSION"])] },
        { cmd: "curl", match: "/raw/deploy/dev/rollout\\.yaml\\?ref=main", responses: [http(200, opts.manifest ?? bumped())] },
        { cmd: "curl", match: "/commits\\?sha=main", responses: [http(200, [{ sha: "b".repeat(40), commit: { message: `release: ${IMAGE}:${tag}` } }, { sha: "a".repeat(40), commit: { message: "Initial platform content" } }])] },
        { cmd: "kubectl", match: "-n registry get services", responses: [kube(stack.registryServices)] },
        { cmd: "curl", match: "^GET http://127\\.0\\.0\\.1:30500/v2/$", responses: [http(opts.anonymous ?? 401)] },
        { cmd: "curl", match: "^GET http://127\\.0\\.0\\.1:30500/v2/platform/sample-api/tags/list user=platform$", responses: [http(200, { name: "platform/sample-api", tags: opts.tags ?? ["c0ffee000000", tag] })] },
      );
    }

    it("waits for the first run, then checks the bump on main and the tag in the registry", () => {
      const b = gitea(box(), [[], [run("in_progress")], [run("completed", "success")]]);
      const r = b.run("probe-release-run.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(b.results().map((x) => [x[0], x[1]])).toEqual([["PM-24", "pass"], ["PM-01", "pass"], ["PM-03", "pass"], ["PM-13", "pass"]]);
      expect(row(b, "PM-13")[0][2]).toContain(`platform/sample-api has ${tag}`);
      expect(b.read("release.env")).toBe(`RELEASE_IMAGE=${IMAGE}\nRELEASE_TAG=${tag}\n`);
      expect(b.calls("curl").filter((c) => c.key.includes("actions/runs")).length).toBe(3);
    });

    it("fails at once when the run fails, with its URL", () => {
      const b = gitea(box(), [[run("completed", "failure")]]);
      const r = b.run("probe-release-run.sh", [], { E2E_RUN_TIMEOUT: "600" });
      expect(r.status).toBe(1);
      expect(r.ms).toBeLessThan(10_000);
      expect(r.stderr).toContain("release run #1 completed: failure (http://git/runs/1)");
      expect(row(b, "PM-01")[0][1]).toBe("fail");
    });

    it("times out when no run ever starts (no runner, or the initial push did not trigger)", () => {
      const r = gitea(box(), [[]]).run("probe-release-run.sh", [], { E2E_RUN_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("not done within 1s (last seen: no workflow run yet");
    });

    it("PM-03 fails when main was not bumped; PM-13 fails when the registry lets anonymous clients in or lacks the tag", () => {
      const notBumped = gitea(box(), [[run("completed", "success")]], { manifest: stack.files["deploy/dev/rollout.yaml"] });
      const r1 = notBumped.run("probe-release-run.sh");
      expect(r1.status).toBe(1);
      expect(row(notBumped, "PM-03")[0][2]).toContain(`does not reference ${IMAGE}:${tag}`);
      const open = gitea(box(), [[run("completed", "success")]], { anonymous: 200 });
      expect(open.run("probe-release-run.sh").stderr).toContain("without credentials: HTTP 200, want 401");
      const untagged = gitea(box(), [[run("completed", "success")]], { tags: ["0.0.9"] });
      expect(untagged.run("probe-release-run.sh").stderr).toContain(`tag ${tag} not in platform/sample-api`);
    });
  });

  describe("probe-image-pull.sh (PM-04)", () => {
    const image = `${IMAGE}:0.1.0-main.1`;
    const rollout = (img: string) => kube({ spec: { template: { spec: { containers: [{ name: "api", image: img }] } } } });
    const pod = (name: string, phase: string, ready: boolean, waiting?: string, img = image) => ({
      metadata: { name }, spec: { containers: [{ name: "api", image: img }, { name: "istio-proxy", image: "proxyv2" }] },
      status: { phase, containerStatuses: [
        { name: "api", ready, image: img, imageID: ready ? "registry.platform.internal:5000/platform/sample-api@sha256:abc" : "", state: waiting ? { waiting: { reason: waiting } } : { running: {} } },
        { name: "istio-proxy", ready: true, imageID: "docker.io/istio/proxyv2@sha256:def", state: { running: {} } },
      ] },
    });

    it("passes when a pod runs the Rollout's image from the platform registry and is Ready", () => {
      const b = box().on(
        { cmd: "kubectl", match: "get rollouts.argoproj.io sample-api", responses: [rollout(image)] },
        { cmd: "kubectl", match: "get pods -l app.kubernetes.io/name=sample-api", responses: [
          kube({ items: [pod("sample-api-1", "Pending", false, "ImagePullBackOff")] }),
          kube({ items: [pod("sample-api-old", "Running", true, undefined, `${IMAGE}:0.1.0`), pod("sample-api-2", "Running", true)] }),
        ] },
      );
      const r = b.run("probe-image-pull.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(row(b, "PM-04")).toEqual([["PM-04", "pass", `the node pulled ${image}: sample-api-2 Running and Ready`]]);
    });

    it("times out on ImagePullBackOff, naming the reason", () => {
      const b = box().on(
        { cmd: "kubectl", match: "get rollouts", responses: [rollout(image)] },
        { cmd: "kubectl", match: "get pods", responses: [kube({ items: [pod("sample-api-1", "Pending", false, "ImagePullBackOff")] })] },
      );
      const r = b.run("probe-image-pull.sh", [], { E2E_PROBE_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("sample-api-1 Pending ImagePullBackOff,ready");
    });

    it("fails at once when the Rollout's image is not in the platform registry (PM-15)", () => {
      const b = box().on({ cmd: "kubectl", match: "get rollouts", responses: [rollout("localhost:5000/sample-api:1")] });
      const r = b.run("probe-image-pull.sh", [], { E2E_PROBE_TIMEOUT: "600" });
      expect(r.status).toBe(1);
      expect(r.ms).toBeLessThan(10_000);
      expect(r.stderr).toContain("is not in the platform registry registry.platform.internal:5000");
    });
  });

  describe("probe-guest.sh (PM-05)", () => {
    const host = "host=argocd\\.platform\\.localhost:8443";
    function argocd(b: Sandbox, login: object[], sync = 403) {
      return b.on(
        { cmd: "curl", match: `^POST ${esc(gw("argocd"))}/api/v1/session ${host}$`, responses: login },
        { cmd: "curl", match: `^GET ${esc(gw("argocd"))}/api/v1/session/userinfo ${host} bearer$`, responses: [http(200, { loggedIn: true, username: "guest", iss: "argocd" })] },
        { cmd: "curl", match: `^GET ${esc(gw("argocd"))}/api/v1/applications ${host} bearer$`, responses: [http(200, { items: [{ metadata: { name: "root" } }, { metadata: { name: "sample-app" } }] })] },
        { cmd: "curl", match: `^POST ${esc(gw("argocd"))}/api/v1/applications/sample-app/sync ${host} bearer$`, responses: [http(sync, { error: "permission denied", code: 7 })] },
      );
    }

    it("logs in as guest through the gateway, reads, and is denied a sync (403)", () => {
      const b = argocd(box(), [http(503), http(200, { token: "eyJ.guest.token" })]);
      const r = b.run("probe-guest.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(row(b, "PM-05")[0][1]).toBe("pass");
      const calls = b.calls("curl");
      const login = calls.find((c) => c.key.startsWith("POST") && c.key.includes("/session"))!;
      expect(JSON.parse(login.data![0])).toEqual({ username: "guest", password: stack.credentials.argocdGuest.password });
      // Neither the password nor the session token appears in any argv.
      expect(JSON.stringify(calls.map((c) => c.args))).not.toContain(stack.credentials.argocdGuest.password);
      expect(JSON.stringify(calls.map((c) => c.args))).not.toContain("eyJ.guest.token");
    });

    it("fails when the guest can write (a sync is not denied)", () => {
      const b = argocd(box(), [http(200, { token: "t" })], 200);
      const r = b.run("probe-guest.sh");
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("guest sync of sample-app: HTTP 200, want 403");
    });

    it("fails at once when the guest login is rejected (the incident: no password in argocd-secret)", () => {
      const b = argocd(box(), [http(401, { error: "Invalid username or password" })]);
      const r = b.run("probe-guest.sh", [], { E2E_PROBE_TIMEOUT: "600" });
      expect(r.status).toBe(1);
      expect(r.ms).toBeLessThan(10_000);
      expect(r.stderr).toContain("guest login rejected: HTTP 401");
    });

    it("times out while Argo CD does not answer", () => {
      const r = argocd(box(), [http(502)]).run("probe-guest.sh", [], { E2E_PROBE_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("last seen: POST /api/v1/session: HTTP 502");
    });
  });

  describe("probe-argocd-sidecar.sh (PM-02)", () => {
    const ns = (annotations: object, labels: object = {}) => kube({ metadata: { name: "argocd", annotations, labels } });
    const pod = (name: string, containers: string[], ready = true, init: string[] = [], annotations: object = {}) => ({
      metadata: { name, annotations }, spec: { containers: containers.map((n) => ({ name: n })), initContainers: init.map((n) => ({ name: n })) },
      status: { phase: "Running", containerStatuses: containers.map((n) => ({ name: n, ready })) },
    });
    const healthy = [pod("argocd-server-1", ["server"]), pod("argocd-repo-server-1", ["repo-server"], true, ["copyutil"]), pod("argocd-application-controller-0", ["application-controller"])];

    it("passes: the namespace opts out and every pod is Ready without a proxy", () => {
      const b = box().on(
        { cmd: "kubectl", match: "get namespace argocd", responses: [ns({ "linkerd.io/inject": "disabled" }, { "kubernetes.io/metadata.name": "argocd" })] },
        { cmd: "kubectl", match: "-n argocd get pods", responses: [kube({ items: [pod("argocd-server-1", ["server"], false)] }), kube({ items: healthy })] },
      );
      const r = b.run("probe-argocd-sidecar.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(row(b, "PM-02")[0][2]).toContain("3 pods Ready, none with a proxy");
    });

    it("fails at once on an injected proxy, a native sidecar or an injection annotation", () => {
      for (const [items, want] of [
        [[...healthy, pod("argocd-redis-1", ["redis", "istio-proxy"])], "argocd-redis-1/istio-proxy"],
        [[pod("argocd-server-1", ["server"], true, ["linkerd-init"])], "argocd-server-1/linkerd-init"],
        [[pod("argocd-server-1", ["server"], true, [], { "sidecar.istio.io/status": "{}" })], "argocd-server-1 (injected)"],
      ] as const) {
        const b = box().on(
          { cmd: "kubectl", match: "get namespace", responses: [ns({ "linkerd.io/inject": "disabled" })] },
          { cmd: "kubectl", match: "get pods", responses: [kube({ items })] },
        );
        const r = b.run("probe-argocd-sidecar.sh", [], { E2E_PROBE_TIMEOUT: "600" });
        expect(r.status).toBe(1);
        expect(r.ms).toBeLessThan(10_000);
        expect(r.stderr).toContain(`sidecars in argocd: ${want}`);
      }
    });

    it("fails on a namespace without the Linkerd opt-out or labelled for Istio", () => {
      const plain = box().on({ cmd: "kubectl", match: "get namespace", responses: [ns({})] });
      expect(plain.run("probe-argocd-sidecar.sh").stderr).toContain("lacks linkerd.io/inject: disabled");
      const istio = box().on({ cmd: "kubectl", match: "get namespace", responses: [ns({ "linkerd.io/inject": "disabled" }, { "istio-injection": "enabled" })] });
      expect(istio.run("probe-argocd-sidecar.sh").stderr).toContain("labelled for Istio injection: istio-injection=enabled");
    });

    it("times out while a pod is not Ready", () => {
      const b = box().on(
        { cmd: "kubectl", match: "get namespace", responses: [ns({ "linkerd.io/inject": "disabled" })] },
        { cmd: "kubectl", match: "get pods", responses: [kube({ items: [pod("argocd-repo-server-1", ["repo-server"], false)] })] },
      );
      const r = b.run("probe-argocd-sidecar.sh", [], { E2E_PROBE_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("last seen: not ready: argocd-repo-server-1");
    });
  });

  describe("probe-monitoring.sh (PM-20, PM-35)", () => {
    // Through the API server's Service proxy: Prometheus is not on the gateway (issue 13).
    const proxy = esc("--raw /api/v1/namespaces/monitoring/services/prometheus-server:80/proxy");
    const target = (labels: object, health: string, lastError = "") => ({ labels, health, lastError });
    const up = [
      target({ job: "kube-state-metrics", instance: "kube-state-metrics.monitoring.svc:8080" }, "up"),
      target({ job: "prometheus", instance: "localhost:9090" }, "up"),
      target({ job: "annotated-pods", app_kubernetes_io_name: "kiali", namespace: "istio-system" }, "up"),
      target({ job: "annotated-pods", app_kubernetes_io_name: "sample-api", namespace: "sample-app" }, "up"),
    ];
    function prometheus(b: Sandbox, targets: object[][], kiali = 200, kialiApi = 401) {
      return b.on(
        { cmd: "kubectl", match: "get deployment", responses: [kube({ status: { availableReplicas: 1 } })] },
        { cmd: "kubectl", match: `^get ${proxy}/api/v1/targets\\?state=active --request-timeout=30s$`, responses: targets.map((t) => kube({ status: "success", data: { activeTargets: t } })) },
        { cmd: "kubectl", match: `^get ${proxy}/api/v1/query\\?query=${esc(curlEncode('count(kube_pod_info{namespace="sample-app"})')).replace("%28", "(%28|\\()").replace("%29", "(%29|\\))")} --request-timeout=30s$`, responses: [kube({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [1, "3"] }] } })] },
        { cmd: "curl", match: `^GET ${esc(gw("kiali"))}/healthz host=kiali\\.platform\\.localhost:8443$`, responses: [http(kiali)] },
        { cmd: "curl", match: `^GET ${esc(gw("kiali"))}/api/namespaces host=kiali\\.platform\\.localhost:8443$`, responses: [http(kialiApi)] },
      );
    }

    it("passes when the three Deployments are available, their targets up and KSM reports the app's namespace", () => {
      const b = prometheus(box(), [[up[0], target({ job: "prometheus" }, "unknown"), up[2]], up]);
      const r = b.run("probe-monitoring.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(b.results().map((x) => [x[0], x[1]])).toEqual([["PM-20", "pass"], ["PM-20", "pass"], ["PM-35", "pass"]]);
      const deployments = b.calls("kubectl").map((c) => c.args.slice(0, 5).join(" "));
      expect(deployments).toEqual(expect.arrayContaining(["-n monitoring get deployment kube-state-metrics", "-n monitoring get deployment prometheus-server", "-n istio-system get deployment kiali"]));
    });

    it("times out naming the target that is down and its scrape error, or absent", () => {
      const down = prometheus(box(), [[target({ job: "kube-state-metrics" }, "down", "connection refused"), up[1]]]);
      const r = down.run("probe-monitoring.sh", [], { E2E_PROBE_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("targets not up: kube-state-metrics=down(connection refused) kiali=absent");
      expect(row(down, "PM-20")[0][1]).toBe("fail");
    });

    it("fails while a Deployment has no available replica; PM-35 fails when Kiali does not answer", () => {
      const b = box().on({ cmd: "kubectl", match: "get deployment kiali", responses: [kube({ status: {} })] },
        { cmd: "kubectl", match: "get deployment", responses: [kube({ status: { availableReplicas: 1 } })] });
      expect(b.run("probe-monitoring.sh", [], { E2E_PROBE_TIMEOUT: "1" }).stderr).toContain("no available replica: istio-system/kiali");
      const k = prometheus(box(), [up], 503);
      const r = k.run("probe-monitoring.sh", [], { E2E_PROBE_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(row(k, "PM-35")[0]).toEqual(["PM-35", "fail", "Kiali healthy: not done within 1s (last seen: Kiali /healthz through the gateway: HTTP 503)"]);
    });

    it("#13 fails at once when Kiali serves its API without a login (anonymous)", () => {
      const open = prometheus(box(), [up], 200, 200);
      const r = open.run("probe-monitoring.sh", [], { E2E_PROBE_TIMEOUT: "5" });
      expect(r.status).toBe(1);
      expect(row(open, "PM-35")[0]).toEqual(["PM-35", "fail", "Kiali healthy: Kiali /api/namespaces without a login: HTTP 200 (want 401)"]);
    });
  });

  describe("probe-gateway.sh (PM-38)", () => {
    const hosts = ["git", "argocd", "kiali", "app"].map((h) => `${h}.platform.localhost:8443`);
    const unpublished = "prometheus.platform.localhost:8443";
    const gatewayBox = (prometheusCode: number) => box().on(
      { cmd: "curl", match: "host=prometheus\\.", responses: [http(prometheusCode)] },
      { cmd: "curl", match: "^GET https://", responses: [http(200)] },
    );

    it("asks the gateway for every published host with its Host header and passes when all answer 200", () => {
      const b = gatewayBox(404);
      const r = b.run("probe-gateway.sh");
      expect(r.status, r.stderr).toBe(0);
      expect(b.calls("curl").map((c) => c.key)).toEqual([
        `GET https://${hosts[0]}/api/healthz host=${hosts[0]}`, `GET https://${hosts[1]}/healthz host=${hosts[1]}`, `GET https://${hosts[2]}/healthz host=${hosts[2]}`,
        `GET https://${hosts[3]}/health host=${hosts[3]}`, `GET https://${unpublished}/-/ready host=${unpublished}`,
      ]);
      expect(row(b, "#13")).toEqual([["#13", "pass", `127.0.0.1:8443 does not route ${unpublished} (404)`]]);
    });

    it("#13 fails when the gateway still routes prometheus.<domain>", () => {
      const b = gatewayBox(200);
      const r = b.run("probe-gateway.sh");
      expect(r.status).toBe(1);
      expect(row(b, "#13")[0]).toEqual(["#13", "fail", `the gateway routes ${unpublished} (HTTP 200): Prometheus must not be published`]);
    });

    it("times out naming the hosts that do not answer (the incident: no gateway installed)", () => {
      const b = box().on({ cmd: "curl", match: "host=app\\.", responses: [http(503)] }, { cmd: "curl", match: "host=kiali", responses: [http(0)] }, { cmd: "curl", match: ".", responses: [http(200)] });
      const r = b.run("probe-gateway.sh", [], { E2E_PROBE_TIMEOUT: "1" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`not answering: ${hosts[2]}/healthz=000 ${hosts[3]}/health=503`);
      expect(row(b, "PM-38")[0][1]).toBe("fail");
    });
  });
});
