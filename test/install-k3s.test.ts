// Runs the real install-k3s.sh against stubbed k3s/curl/systemctl in a temp dir: what it writes,
// what it installs, and that a second run with the same inputs changes nothing.
import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "./helpers/stack";
import { stub } from "./helpers/stubs";

const SCRIPT = path.join(ROOT, "components/cluster/scripts/install-k3s.sh");
const b64 = (s: string) => Buffer.from(s).toString("base64");

const sandboxes: string[] = [];
afterEach(() => { for (const dir of sandboxes.splice(0)) fs.rmSync(dir, { recursive: true, force: true }); });

function sandbox() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "install-k3s-"));
  sandboxes.push(root);
  const stubs = path.join(root, "stubs");
  fs.mkdirSync(stubs);
  const log = path.join(root, "calls.log");
  // k3s: appears only once the fake installer ran (as on a fresh host), then reports that version.
  fs.writeFileSync(path.join(root, "k3s.stub"), `#!/usr/bin/env bash
if [ "$1" = "--version" ]; then echo "k3s version $(cat "${root}/installed") (stub)"; exit 0; fi
exit 0
`, { mode: 0o755 });
  // curl: the K3s installer records the version it was asked for; anything else is the plugin.
  stub(stubs, "curl", `out=""; url=""; while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift 2;; -*) shift;; *) url="$1"; shift;; esac; done
echo "curl $url" >> "${log}"
case "$url" in
  */install.sh) printf '%s\\n' 'echo "$INSTALL_K3S_VERSION" > "${root}/installed"; cp "${root}/k3s.stub" "${stubs}/k3s"; echo "installer $1 $INSTALL_K3S_VERSION" >> "${log}"' > "$out" ;;
  *) printf '%s\\n' '#!/usr/bin/env bash' 'echo "kubectl-argo-rollouts: v1.9.0+stub"' > "$out" ;;
esac`);
  stub(stubs, "systemctl", `echo "systemctl $*" >> "${log}"`);
  stub(stubs, "id", `echo 0`);
  return { root, stubs, log };
}

function run(box: ReturnType<typeof sandbox>, env: Record<string, string>) {
  fs.writeFileSync(box.log, "");
  const r = spawnSync("bash", [SCRIPT], {
    encoding: "utf8",
    env: {
      PATH: `${box.stubs}:${process.env.PATH}`, K3S_CONFIG_DIR: path.join(box.root, "etc"), BIN_DIR: path.join(box.root, "bin"),
      K3S_ROLE: "server", K3S_VERSION: "v1.35.9+k3s1", K3S_TOKEN: "token", ROLLOUTS_VERSION: "v1.9.0",
      K3S_CONFIG_B64: b64("tls-san: [198.51.100.1]\n"), REGISTRIES_B64: b64("mirrors: {}\n"), ...env,
    },
  });
  return { ...r, calls: fs.readFileSync(box.log, "utf8") };
}

describe("install-k3s.sh, run for real against stubs", () => {
  it("PM-16 first run writes config.yaml and registries.yaml, installs the pinned K3s and the rollouts plugin", () => {
    const box = sandbox();
    const r = run(box, {});
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(box.root, "etc/config.yaml"), "utf8")).toBe("tls-san: [198.51.100.1]\n");
    expect(fs.readFileSync(path.join(box.root, "etc/registries.yaml"), "utf8")).toBe("mirrors: {}\n");
    expect((fs.statSync(path.join(box.root, "etc/registries.yaml")).mode & 0o777).toString(8)).toBe("600");
    expect(r.calls).toContain("curl https://raw.githubusercontent.com/k3s-io/k3s/v1.35.9+k3s1/install.sh");
    expect(r.calls).toContain("installer server v1.35.9+k3s1");
    expect(r.calls).toMatch(/curl https:\/\/github.com\/argoproj\/argo-rollouts\/releases\/download\/v1.9.0\/kubectl-argo-rollouts-linux-(amd64|arm64)/);
    expect(fs.existsSync(path.join(box.root, "bin/kubectl-argo-rollouts"))).toBe(true);
  });

  it("a second run with the same inputs changes nothing; a changed registries.yaml restarts K3s only", () => {
    const box = sandbox();
    expect(run(box, {}).status).toBe(0);
    const again = run(box, {});
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("nothing to do");
    expect(again.stdout).not.toContain("wrote");
    expect(again.calls).toBe("");
    const changed = run(box, { REGISTRIES_B64: b64("mirrors: {a: {}}\n") });
    expect(changed.stdout).toContain(`wrote ${path.join(box.root, "etc/registries.yaml")}`);
    expect(changed.calls).toBe("systemctl restart k3s\n");
  });

  it("agents join with K3S_URL and get no plugin", () => {
    const box = sandbox();
    const r = run(box, { K3S_ROLE: "agent", K3S_URL: "https://10.0.1.11:6443", ROLLOUTS_VERSION: "" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain("installer agent v1.35.9+k3s1");
    expect(r.calls).not.toContain("argo-rollouts");
  });

  it("refuses to run without its inputs", () => {
    const r = run(sandbox(), { K3S_TOKEN: "" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("K3S_TOKEN is required");
  });
});
