// Issue 14 item 2, "the runner cannot take the node": what the runner pod (and so every job, which
// runs in its network namespace with `network: host`, PM-01) may reach, that nothing reaches it, and
// the start script that keeps a registration to the platform organisation.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { RUNNER_LABELS, RUNNER_NAMESPACE } from "../components/gitops/runner-config";
import { JOB_LABELS } from "../components/gitops/bootstrap-repo";
import { RUNNER_DENIED_CIDRS, trafficPlan } from "../components/traffic";
import { API_SERVER_PORT } from "../components/delivery/rollouts";
import type { Environment } from "../components/lib/profiles";
import { testContext } from "./helpers/context";
import { allowed, Party, platformPolicies } from "./helpers/netpol";
import { needs } from "./helpers/binaries";

const ENVIRONMENTS: Environment[] = ["dev", "oci", "homelab"];
// Pod and node addresses as K3s hands them out (cluster-cidr 10.42.0.0/16) and as the test contexts
// place the node (oci 10.0.1.11, homelab its hostAddress 192.0.2.10, left out by the plan's node range).
const NODE = { oci: "10.0.1.11", homelab: "192.0.2.10", dev: "172.18.0.2" } as const;
const runner = { namespace: RUNNER_NAMESPACE, labels: { ...RUNNER_LABELS }, ip: "10.42.0.40" };
const argocdServer = { namespace: "argocd", labels: { "app.kubernetes.io/name": "argocd-server" }, ip: "10.42.0.20" };
const prometheus = { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server" }, ip: "10.42.0.30" };
const gitea = { namespace: "gitea", labels: { "app.kubernetes.io/name": "gitea", "app.kubernetes.io/instance": "gitea-chart" }, ip: "10.42.0.10" };
const registry = { namespace: "registry", labels: { "app.kubernetes.io/name": "registry" }, ip: "10.42.0.11" };

describe.each(ENVIRONMENTS)("#14 %s: the runner's (and its jobs') network", (env) => {
  const ctx = testContext(env);
  const plan = trafficPlan(ctx, ctx.traffic);
  const all = platformPolicies(ctx);
  const node = NODE[env];

  it("its flows are only DNS (every namespace), Gitea, the registry, the internet and the node's two NodePorts", () => {
    const out = plan.filter((f) => f.from.kind === "pods" && f.from.namespace === RUNNER_NAMESPACE);
    expect(out.map((f) => f.id).sort()).toEqual(["runner-to-gitea", "runner-to-internet", "runner-to-node-nodeports", "runner-to-registry"]);
    const ports = (id: string) => out.find((f) => f.id === id)!.ports.map((p) => Number(p.port)).sort((a, b) => a - b);
    expect(ports("runner-to-internet")).toEqual([80, 443]);
    expect(ports("runner-to-node-nodeports")).toEqual([ctx.endpoints.ports.giteaHttp, ctx.endpoints.ports.registry].sort((a, b) => a - b));
    const internet = out.find((f) => f.id === "runner-to-internet")!.to;
    // Its own list, plus what the plan leaves out of every internet flow (the node range: traffic.ts withExcepts).
    expect(internet.kind === "cidrs" ? internet.except : undefined).toEqual(expect.arrayContaining([...RUNNER_DENIED_CIDRS]));
  });

  it("denied: the metadata service, the API server, the kubelet, Argo CD, Prometheus, other pods", () => {
    const denied: [string, Party, number][] = [
      ["cloud metadata (OCI, AWS, GCP) on 80", { ip: "169.254.169.254" }, 80],
      ["cloud metadata on 443", { ip: "169.254.169.254" }, 443],
      ["link-local anywhere", { ip: "169.254.0.1" }, 80],
      ["the API server on the node", { ip: node }, API_SERVER_PORT],
      ["the API server's Service address", { ip: "10.43.0.1" }, 443],
      ["the node's kubelet", { ip: node }, 10250],
      ["the node on 443 (a Service of the host, not a NodePort)", { ip: node }, 443],
      ["the node's SSH", { ip: node }, 22],
      ["the Argo CD server pod", argocdServer, 8080],
      ["the Argo CD server pod on 443 (ipBlock matches pods on K3s)", argocdServer, 443],
      ["Prometheus", prometheus, 9090],
      ["Prometheus on 80", prometheus, 80],
      ["a pod of another user on 80", { namespace: "user-app", labels: { app: "web" }, ip: "10.42.3.7" }, 80],
    ];
    for (const [what, to, port] of denied) expect(allowed(all, runner, to, port), what).toBe(false);
  });

  it("allowed: Gitea and the registry (pods and the node's NodePorts) and the internet on 80/443", () => {
    expect(allowed(all, runner, gitea, 3000)).toBe(true);
    expect(allowed(all, runner, registry, ctx.endpoints.registry.pushPort)).toBe(true); // the read-write instance (#14.1)
    expect(allowed(all, runner, registry, ctx.endpoints.registry.port)).toBe(false);
    expect(allowed(all, runner, { ip: node }, ctx.endpoints.ports.giteaHttp)).toBe(true);
    expect(allowed(all, runner, { ip: node }, ctx.endpoints.ports.registry)).toBe(true);
    for (const port of [80, 443]) expect(allowed(all, runner, { ip: "140.82.112.3" }, port)).toBe(true);
  });

  it("nothing reaches the runner pod: no flow ends there, and no pod or address passes its policies", () => {
    expect(plan.filter((f) => f.to.kind === "pods" && f.to.namespace === RUNNER_NAMESPACE)).toEqual([]);
    const sources: Party[] = [
      ...plan.flatMap((f) => [f.from, f.to]).filter((e) => e.kind === "pods")
        .map((e) => (e.kind === "pods" ? { namespace: e.namespace, labels: { ...(e.pods ?? { app: "any" }) }, ip: "10.42.1.1" } : null)!),
      { namespace: "user-app", labels: { app: "web" }, ip: "10.42.3.7" },
      { ip: node }, { ip: "203.0.113.9" }, { ip: "10.42.0.1" },
    ];
    for (const from of sources) {
      for (const port of [2375, 2376, 22, 80, 443, 8080, 9090, 15020, 15090]) {
        expect(allowed(all, from, runner, port), `${JSON.stringify(from)} :${port}`).toBe(false);
      }
    }
  });

  it("the bootstrap Job may reach the API server (to apply the runner's token Secret)", () => {
    const job = { namespace: ctx.endpoints.gitea.namespace, labels: { ...JOB_LABELS } };
    expect(allowed(all, job, { ip: node }, API_SERVER_PORT)).toBe(true);
  });
});

const START = path.join(__dirname, "..", "components", "gitops", "scripts", "runner-start.sh");
const shellcheck = needs("shellcheck");

describe("runner-start.sh", () => {
  shellcheck.it("passes shellcheck at warning level", () => {
    const r = spawnSync(shellcheck.bin("shellcheck"), ["-S", "warning", START], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  /** Runs the real script with a fake run.sh that records that it ran and what /data held. */
  function start(setup: (data: string, tokenFile: string) => void, extra: Record<string, string> = {}) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "runner-start-"));
    try {
      const data = path.join(root, "data");
      fs.mkdirSync(data);
      const tokenFile = path.join(root, "registration", "token");
      fs.mkdirSync(path.dirname(tokenFile));
      const fake = path.join(root, "run.sh");
      fs.writeFileSync(fake, `#!/bin/sh\necho "run.sh in $(pwd): .runner=$(cat .runner 2>/dev/null || echo missing)"\n`, { mode: 0o755 });
      setup(data, tokenFile);
      const r = spawnSync("bash", [START], {
        encoding: "utf8", timeout: 20_000,
        env: { PATH: process.env.PATH!, RUNNER_SCOPE: "org:platform", GITEA_RUNNER_REGISTRATION_TOKEN_FILE: tokenFile, RUNNER_DATA: data, RUN_SH: fake, WAIT_INTERVAL: "0.1", ...extra },
      });
      const scope = fs.existsSync(path.join(data, ".runner-scope")) ? fs.readFileSync(path.join(data, ".runner-scope"), "utf8") : undefined;
      return { code: r.status, out: r.stdout + r.stderr, scope, runnerLeft: fs.existsSync(path.join(data, ".runner")) };
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  it("#14 day two: an instance-wide registration of an older stack is dropped, and run.sh registers with the org token", () => {
    const r = start((data, token) => { fs.writeFileSync(path.join(data, ".runner"), "{\"uuid\":\"old-global\"}"); fs.writeFileSync(token, "orgtoken"); });
    expect(r.code).toBe(0);
    expect(r.out).toContain("not 'org:platform': registering again");
    expect(r.out).toContain(".runner=missing");
    expect(r.scope).toBe("org:platform\n");
  });

  it("#14 a restarted pod keeps its org registration and never waits for a token", () => {
    const r = start((data) => {
      fs.writeFileSync(path.join(data, ".runner"), "{\"uuid\":\"org-runner\"}");
      fs.writeFileSync(path.join(data, ".runner-scope"), "org:platform\n");
    }, { WAIT_SECONDS: "0" });
    expect(r.code).toBe(0);
    expect(r.out).toContain(".runner={\"uuid\":\"org-runner\"}");
    expect(r.out).not.toContain("waiting");
  });

  it("#14 a first start waits for the token the bootstrap Job writes, bounded", () => {
    const r = start(() => undefined, { WAIT_SECONDS: "1" });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("no registration token");
    expect(r.out).not.toContain("run.sh in");
    expect(() => start(() => undefined, { RUNNER_SCOPE: "" })).not.toThrow();
    expect(start(() => undefined, { RUNNER_SCOPE: "" }).code).not.toBe(0);
  });
});
