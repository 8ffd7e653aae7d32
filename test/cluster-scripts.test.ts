// The cluster's other scripts, run for real against stubbed docker/k3d/k3s in a temp dir: what
// the stack authenticates with (issue 10 #6), a registry rotation on dev nodes (#3), and a destroy
// that fails loudly rather than forgetting a running cluster (#8).
import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseCredentials, PULUMI_ACCESS, pulumiAccessManifest } from "../components/cluster/kubeconfig";
import { ROOT } from "./helpers/stack";

const script = (name: string) => path.join(ROOT, "components/cluster/scripts", name);
const b64 = (s: string) => Buffer.from(s).toString("base64");
const CA = b64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
const KUBECONFIG = `apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: ${CA}\n    server: https://127.0.0.1:6443\n  name: default\n`;

const boxes: string[] = [];
afterEach(() => { for (const b of boxes.splice(0)) fs.rmSync(b, { recursive: true, force: true }); });

function box(stubs: Record<string, string>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-scripts-"));
  boxes.push(root);
  const bin = path.join(root, "bin");
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(stubs)) {
    fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\nROOT="${root}"\n${body}\n`, { mode: 0o755 });
  }
  const exec = (file: string, env: Record<string, string>) => {
    const r = spawnSync("bash", [script(file)], { encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin`, ...env } });
    const log = path.join(root, "calls.log");
    return { ...r, calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
  };
  return { root, exec };
}

// The token controller fills the Secret after a moment: the first read finds it empty.
const SECRET_READ = `n="$(cat "$ROOT/reads" 2>/dev/null || echo 0)"; echo $((n + 1)) > "$ROOT/reads"; [ "$n" -ge 1 ] && printf '%s' '${b64(TOKEN)}'`;

describe("read-credentials.sh (K3s): the CA and the ServiceAccount token, once", () => {
  const env = (root: string) => ({ PULUMI_NAMESPACE: PULUMI_ACCESS.namespace, PULUMI_TOKEN_SECRET: PULUMI_ACCESS.secret, K3S_KUBECONFIG: path.join(root, "k3s.yaml"), TOKEN_WAIT_SECONDS: "10", TOKEN_POLL_SECONDS: "0.05" });

  it("#6 waits for the token controller, then prints exactly what parseCredentials accepts", () => {
    const b = box({ k3s: `[ "$*" = "kubectl -n kube-system get secret pulumi-token -o jsonpath={.data.token}" ] && { ${SECRET_READ}; }; exit 0` });
    fs.writeFileSync(path.join(b.root, "k3s.yaml"), KUBECONFIG);
    const r = b.exec("read-credentials.sh", env(b.root));
    expect(r.status, r.stderr).toBe(0);
    expect(parseCredentials(r.stdout)).toEqual({ caData: CA, token: TOKEN });
  });

  it("fails, naming the Secret, when the token never comes", () => {
    const b = box({ k3s: "exit 0" });
    fs.writeFileSync(path.join(b.root, "k3s.yaml"), KUBECONFIG);
    const r = b.exec("read-credentials.sh", { ...env(b.root), TOKEN_WAIT_SECONDS: "0" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("kube-system/pulumi-token has no token");
    expect(r.stdout).toBe("");
  });
});

describe("k3d-up.sh: creates the cluster once, gives the stack its token, prints the credentials", () => {
  const stubs = {
    docker: `echo "docker $*" >> "$ROOT/calls.log"
case "$1" in
  info) exit 0 ;;
  exec) if [ "$2" = "-i" ]; then cat > "$ROOT/applied"; exit 0; fi
        [ "$*" = "exec k3d-platform-server-0 kubectl -n kube-system get secret pulumi-token -o jsonpath={.data.token}" ] && { ${SECRET_READ}; }; exit 0 ;;
esac`,
    k3d: `echo "k3d $*" >> "$ROOT/calls.log"
case "$1 $2" in
  "version ") echo "k3d version v5.9.0" ;;
  "cluster get") [ -f "$ROOT/created" ] ;;
  "cluster create") touch "$ROOT/created" ;;
  "kubeconfig get") printf '%s' '${KUBECONFIG}' ;;
esac`,
  };
  const env = {
    K3D_CLUSTER: "platform", K3D_CONFIG_B64: b64("apiVersion: k3d.io/v1alpha5\n"), K3D_VERSION: "v5.9.0",
    PULUMI_ACCESS_B64: b64(pulumiAccessManifest()), PULUMI_NAMESPACE: PULUMI_ACCESS.namespace, PULUMI_TOKEN_SECRET: PULUMI_ACCESS.secret, TOKEN_WAIT_SECONDS: "10", TOKEN_POLL_SECONDS: "0.05",
  };

  it("#6 first run creates, applies the ServiceAccount objects in the server node, stdout is only the credentials", () => {
    const b = box(stubs);
    const r = b.exec("k3d-up.sh", env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain("k3d cluster create --config");
    expect(r.calls).toContain("docker exec -i k3d-platform-server-0 kubectl apply --server-side --force-conflicts --field-manager=platform-install -f -");
    expect(fs.readFileSync(path.join(b.root, "applied"), "utf8")).toBe(pulumiAccessManifest());
    expect(parseCredentials(r.stdout)).toEqual({ caData: CA, token: TOKEN });
  });

  it("a second run (a changed environment) creates nothing and prints the same credentials", () => {
    const b = box(stubs);
    const first = b.exec("k3d-up.sh", env);
    fs.rmSync(path.join(b.root, "calls.log"));
    const second = b.exec("k3d-up.sh", env);
    expect(second.status, second.stderr).toBe(0);
    expect(second.calls).not.toContain("cluster create");
    expect(second.stdout).toBe(first.stdout);
  });
});

describe("k3d-up.sh refuses what it cannot work with, saying what is wrong", () => {
  const env = {
    K3D_CLUSTER: "platform", K3D_CONFIG_B64: b64("apiVersion: k3d.io/v1alpha5\n"), K3D_VERSION: "v5.9.0",
    PULUMI_ACCESS_B64: b64(pulumiAccessManifest()), PULUMI_NAMESPACE: PULUMI_ACCESS.namespace, PULUMI_TOKEN_SECRET: PULUMI_ACCESS.secret,
  };
  it("the Docker engine not running", () => {
    const r = box({ docker: `[ "$1" = info ] && exit 1; exit 0`, k3d: "exit 0" }).exec("k3d-up.sh", env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Docker engine is not running/);
  });
  it("another k3d major (the config schema is v1alpha5, k3d v5); another minor is only noted", () => {
    const k3d = (v: string) => `case "$1 $2" in "version ") echo "k3d version ${v}" ;; "cluster get") exit 0 ;; "kubeconfig get") printf '%s' '${KUBECONFIG}' ;; esac`;
    const docker = `case "$1" in exec) [ "$2" = "-i" ] && { cat >/dev/null; exit 0; }; printf '%s' '${b64(TOKEN)}' ;; esac; exit 0`;
    const major = box({ docker, k3d: k3d("v6.0.0") }).exec("k3d-up.sh", env);
    expect(major.status).not.toBe(0);
    expect(major.stderr).toMatch(/config schema needs v5\.x/);
    const minor = box({ docker, k3d: k3d("v5.8.3") }).exec("k3d-up.sh", env);
    expect(minor.status, minor.stderr).toBe(0);
    expect(minor.stderr).toMatch(/note: k3d v5\.8\.3 installed, tested with v5\.9\.0/);
  });
  it("missing inputs", () => {
    const r = box({}).exec("k3d-up.sh", { K3D_CLUSTER: "platform" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/K3D_CONFIG_B64 is required/);
  });
});

describe("k3d-registries.sh: #3 a rotated registry password reaches the nodes in place", () => {
  const stubs = {
    docker: `echo "docker $*" >> "$ROOT/calls.log"
case "$1" in
  info) exit 0 ;;
  ps) printf '%s\\n' 'k3d-platform-server-0 server' 'k3d-platform-serverlb loadbalancer' 'k3d-platform-agent-0 agent' ;;
  exec) if [ "$2" = "-i" ]; then cat > "$ROOT/node-$3"; else cat "$ROOT/node-$2" 2>/dev/null || exit 1; fi ;;
esac`,
    k3d: `echo "k3d $*" >> "$ROOT/calls.log"`,
  };
  const env = (yaml: string) => ({ K3D_CLUSTER: "platform", REGISTRIES_B64: b64(yaml) });
  const old = "configs:\n  127.0.0.1:30500:\n    auth:\n      password: old\n";
  const rotated = old.replace("old", "new");

  it("writes registries.yaml into every server and agent node (not the load balancer), then restarts the cluster once", () => {
    const b = box(stubs);
    for (const n of ["server-0", "agent-0"]) fs.writeFileSync(path.join(b.root, `node-k3d-platform-${n}`), old);
    const r = b.exec("k3d-registries.sh", env(rotated));
    expect(r.status, r.stderr).toBe(0);
    for (const n of ["server-0", "agent-0"]) expect(fs.readFileSync(path.join(b.root, `node-k3d-platform-${n}`), "utf8")).toBe(rotated);
    expect(fs.existsSync(path.join(b.root, "node-k3d-platform-serverlb"))).toBe(false);
    expect(r.calls.split("\n").filter((l) => l.startsWith("k3d "))).toEqual(["k3d cluster stop platform", "k3d cluster start platform --wait"]);
    expect(r.calls).toContain("docker ps --filter label=k3d.cluster=platform");
  });

  it("nodes already current: nothing written, nothing restarted", () => {
    const b = box(stubs);
    for (const n of ["server-0", "agent-0"]) fs.writeFileSync(path.join(b.root, `node-k3d-platform-${n}`), rotated);
    const r = b.exec("k3d-registries.sh", env(rotated));
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).not.toContain("k3d cluster");
    expect(r.calls).not.toContain("exec -i");
  });

  it("Docker not running: fails instead of pretending the nodes were updated", () => {
    const b = box({ docker: "exit 1", k3d: stubs.k3d });
    const r = b.exec("k3d-registries.sh", env(rotated));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Docker engine is not running");
  });
});

describe("k3d-down.sh: #8 destroy deletes the cluster or fails loudly, never forgets a running one", () => {
  // Like k3d: nothing answers without the Docker engine.
  const k3d = (found: boolean) => `echo "k3d $*" >> "$ROOT/calls.log"; docker info >/dev/null 2>&1 || exit 1; [ "$1 $2" = "cluster get" ] && exit ${found ? 0 : 1}; exit 0`;

  it("Docker stopped: fails with what to do, so the state keeps the cluster", () => {
    // Today: `k3d cluster get` fails like a missing cluster would, and the script reports success.
    const r = box({ docker: "exit 1", k3d: k3d(true) }).exec("k3d-down.sh", { K3D_CLUSTER: "platform" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("start Docker and run pulumi destroy again");
    expect(r.calls).not.toContain("cluster delete");
  });

  it("k3d not installed: fails with what to do", () => {
    const r = box({ docker: "exit 0" }).exec("k3d-down.sh", { K3D_CLUSTER: "platform" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("k3d is not installed");
  });

  it("a running cluster is deleted; one that is really gone is not an error", () => {
    const found = box({ docker: "exit 0", k3d: k3d(true) }).exec("k3d-down.sh", { K3D_CLUSTER: "platform" });
    expect(found.status, found.stderr).toBe(0);
    expect(found.calls).toContain("k3d cluster delete platform");
    const gone = box({ docker: "exit 0", k3d: k3d(false) }).exec("k3d-down.sh", { K3D_CLUSTER: "platform" });
    expect(gone.status, gone.stderr).toBe(0);
    expect(gone.stdout).toContain("not found; nothing to delete");
  });
});
