// k3d-up.sh and k3d-down.sh run for real, as @pulumi/command runs the K3d component's Command
// (`/bin/bash -c <create|delete>` with its environment), against fake k3d and docker on a PATH
// that holds nothing else: what they create, print and refuse.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { versions } from "../components/lib/versions";
import { Created, find, mocks, plain, unwrap } from "./helpers/mocks";
import { onlyTools, stub } from "./helpers/stubs";

const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: [{name: k3d-platform}]\n";
let command: { create: string; delete: string; environment: Record<string, string> };

beforeAll(async () => {
  const created: Created[] = [];
  pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false);
  const { K3d } = await import("../components/cluster/k3d");
  const k3d = new K3d("k3d", {
    name: "platform", httpPort: 8080, httpsPort: 8443, apiPort: 6445, nodePorts: [30300],
    registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret("pw") },
  });
  await unwrap(k3d.kubeconfig);
  const cmd = find(created, "command:local:Command");
  expect(cmd.inputs.interpreter).toEqual(["/bin/bash", "-c"]);
  command = { create: cmd.inputs.create, delete: cmd.inputs.delete, environment: plain(cmd.inputs.environment) };
});

const boxes: string[] = [];
afterEach(() => { for (const b of boxes.splice(0)) fs.rmSync(b, { recursive: true, force: true }); });

interface Fakes { docker?: "up" | "down" | "missing"; k3d?: string | "missing"; clusterExists?: boolean }

/** A PATH with the real basics, fake docker and k3d; the fakes log their argv to calls.log. */
function sandbox(f: Fakes = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "k3d-scripts-"));
  boxes.push(root);
  const bin = onlyTools(path.join(root, "bin"), ["bash", "env", "cat", "cp", "rm", "mkdir", "mktemp", "base64", "awk", "touch"]);
  const log = path.join(root, "calls.log");
  const state = path.join(root, "clusters");
  fs.mkdirSync(state);
  fs.mkdirSync(path.join(root, "tmp"));
  if (f.clusterExists) fs.writeFileSync(path.join(state, "platform"), "");
  if ((f.docker ?? "up") !== "missing") stub(bin, "docker", `echo "docker $*" >> "${log}"\n[ "$1" = info ] && exit ${f.docker === "down" ? 1 : 0}\nexit 0`);
  if (f.k3d !== "missing") {
    stub(bin, "k3d", `echo "k3d $*" >> "${log}"
case "$1 $2" in
  "version "*) printf 'k3d version %s\\nk3s version v1.35.9-k3s1 (default)\\n' "${f.k3d ?? versions.k3d}" ;;
  "cluster get") [ -e "${state}/$3" ] ;;
  "cluster create") [ "$3" = --config ] || exit 2; cp "$4" "${root}/created-config.yaml"; touch "${state}/$(awk '/^metadata:/{m=1} m && /^  name:/{print $2; exit}' "$4")"; echo "INFO cluster created" ;;
  "cluster delete") rm "${state}/$3" ;;
  "kubeconfig get") [ -e "${state}/$3" ] && printf '%s' '${KUBECONFIG}' ;;
  *) exit 2 ;;
esac`);
  }
  return { root, bin, log, state, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "") };
}

function run(box: ReturnType<typeof sandbox>, script: "create" | "delete", env: Record<string, string> = {}) {
  // stdin not a socket: Debian's bash would source ~/.bashrc, taking it for an ssh session.
  const r = spawnSync("/bin/bash", ["-c", command[script]], {
    encoding: "utf8", timeout: 20_000, stdio: ["ignore", "pipe", "pipe"], env: { PATH: box.bin, TMPDIR: path.join(box.root, "tmp"), ...command.environment, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("k3d-up.sh (the K3d component's create)", () => {
  it("creates the cluster from the decoded config with --wait and prints only the kubeconfig on stdout", () => {
    const box = sandbox();
    const r = run(box, "create");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(KUBECONFIG);
    expect(r.stderr).toContain("INFO cluster created");
    expect(box.calls()).toMatch(/^k3d cluster create --config \S+ --wait$/m);
    const config = fs.readFileSync(path.join(box.root, "created-config.yaml"), "utf8");
    expect(config).toBe(Buffer.from(command.environment.K3D_CONFIG_B64, "base64").toString("utf8"));
    expect(config).toMatch(/^apiVersion: k3d\.io\/v1alpha5$/m);
    expect(fs.existsSync(path.join(box.state, "platform"))).toBe(true);
    // The temporary config file (it holds the registry password) is gone.
    expect(fs.readdirSync(path.join(box.root, "tmp"))).toEqual([]);
  });

  it("an existing cluster is not created again; its kubeconfig is printed", () => {
    const box = sandbox({ clusterExists: true });
    const r = run(box, "create");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("cluster platform exists; nothing to create");
    expect(box.calls()).not.toContain("cluster create");
    expect(r.stdout).toBe(KUBECONFIG);
  });

  it("another k3d major is refused (the config schema is v5); another minor only notes it", () => {
    const major = run(sandbox({ k3d: "v4.4.8" }), "create");
    expect(major.code).toBe(1);
    expect(major.stderr).toContain(`k3d v4.4.8 is installed but the config schema needs v5.x (tested with ${versions.k3d})`);
    const minor = run(sandbox({ k3d: "v5.8.3" }), "create");
    expect(minor.code, minor.stderr).toBe(0);
    expect(minor.stderr).toContain(`note: k3d v5.8.3 installed, tested with ${versions.k3d}`);
  });

  it("says what is missing: docker, the Docker engine, k3d", () => {
    const noDocker = run(sandbox({ docker: "missing" }), "create");
    expect([noDocker.code, noDocker.stderr.trim()]).toEqual([1, "k3d-up: docker is not installed; the dev stack needs Docker"]);
    const down = run(sandbox({ docker: "down" }), "create");
    expect([down.code, down.stderr.trim()]).toEqual([1, "k3d-up: the Docker engine is not running (docker info failed)"]);
    const noK3d = run(sandbox({ k3d: "missing" }), "create");
    expect([noK3d.code, noK3d.stderr.trim()]).toEqual([1, `k3d-up: k3d is not installed; install ${versions.k3d} from https://k3d.io`]);
  });

  it("refuses to run without its inputs", () => {
    const r = run(sandbox(), "create", { K3D_CONFIG_B64: "" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("K3D_CONFIG_B64 is required");
  });
});

describe("k3d-down.sh (the K3d component's delete)", () => {
  it("deletes an existing cluster", () => {
    const box = sandbox({ clusterExists: true });
    const r = run(box, "delete");
    expect(r.code, r.stderr).toBe(0);
    expect(box.calls()).toContain("k3d cluster delete platform");
    expect(fs.existsSync(path.join(box.state, "platform"))).toBe(false);
  });

  it("a cluster already gone, or no k3d at all, is not an error (destroy completes)", () => {
    for (const box of [sandbox(), sandbox({ k3d: "missing" })]) {
      const r = run(box, "delete");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("k3d-down: cluster platform not found; nothing to delete");
      expect(box.calls()).not.toContain("cluster delete");
    }
  });
});
