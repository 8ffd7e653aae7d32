// Runs the real install-k3s.sh against stubbed k3s/curl/systemctl in a temp dir: what it writes,
// what it installs, and that a second run with the same inputs changes nothing.
import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "./helpers/stack";
import { pulumiAccessManifest } from "../components/cluster/kubeconfig";
import { stub } from "./helpers/stubs";
import { admissionConfiguration, auditPolicy, HARDENING_PATHS, KUBELET_SYSCTLS, kubeletSysctlConf } from "../components/cluster/hardening";
import { stableYaml } from "../components/cluster/k3s-config";
import { needs } from "./helpers/binaries";
import { createHash } from "crypto";
import { versions } from "../components/lib/versions";

const SCRIPT = path.join(ROOT, "components/cluster/scripts/install-k3s.sh");
const b64 = (s: string) => Buffer.from(s).toString("base64");
/** What the curl stub writes for the plugin, and its sha256 (the test's ROLLOUTS_SUMS_FILE). */
const PLUGIN_STUB = '#!/usr/bin/env bash\necho "kubectl-argo-rollouts: v1.9.0+stub"\n';
const PLUGIN_STUB_SHA256 = createHash("sha256").update(PLUGIN_STUB).digest("hex");

const sandboxes: string[] = [];
afterEach(() => { for (const dir of sandboxes.splice(0)) fs.rmSync(dir, { recursive: true, force: true }); });

function sandbox() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "install-k3s-"));
  sandboxes.push(root);
  const stubs = path.join(root, "stubs");
  fs.mkdirSync(stubs);
  const log = path.join(root, "calls.log");
  // k3s: appears only once the fake installer ran (as on a fresh host), then reports that version;
  // `kubectl apply` records what it was given in kubectl.log.
  fs.writeFileSync(path.join(root, "k3s.stub"), `#!/usr/bin/env bash
if [ "$1" = "--version" ]; then echo "k3s version $(cat "${root}/installed") (stub)"; exit 0; fi
if [ "$1" = "kubectl" ] && [ "$2" = "apply" ]; then { echo "kubectl $*"; cat; } >> "${root}/kubectl.log"; fi
exit 0
`, { mode: 0o755 });
  // K3s's installer, as far as this script relies on it: the binary, the service's environment file
  // with the token (quoted as install.sh's create_env_file writes it), and a server's token file.
  fs.writeFileSync(path.join(root, "installer.sh"), `echo "$INSTALL_K3S_VERSION" > "${root}/installed"
cp "${root}/k3s.stub" "${stubs}/k3s"
unit=k3s; [ "$1" = agent ] && unit=k3s-agent
mkdir -p "$SYSTEMD_DIR" "$K3S_DATA_DIR/server"
printf "K3S_TOKEN='%s'\\n" "$K3S_TOKEN" > "$SYSTEMD_DIR/$unit.service.env"
[ "$1" = server ] && printf 'K10cafe::server:%s\\n' "$K3S_TOKEN" > "$K3S_DATA_DIR/server/token"
echo "installer $1 $INSTALL_K3S_VERSION" >> "${log}"
`);
  // curl: the K3s installer records the version it was asked for; anything else is the plugin.
  stub(stubs, "curl", `out=""; url=""; while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift 2;; -*) shift;; *) url="$1"; shift;; esac; done
echo "curl $url" >> "${log}"
case "$url" in
  */install.sh) cp "${root}/installer.sh" "$out" ;;
  *) printf '%s\\n' '#!/usr/bin/env bash' 'echo "kubectl-argo-rollouts: v1.9.0+stub"' > "$out" ;;
esac`);
  fs.writeFileSync(path.join(root, "rollouts.sums"), `v1.9.0 amd64 ${PLUGIN_STUB_SHA256}\nv1.9.0 arm64 ${PLUGIN_STUB_SHA256}\n`);
  stub(stubs, "systemctl", `echo "systemctl $*" >> "${log}"`);
  // The kernel as the kubelet reads it: Ubuntu's defaults, where overcommit, panic and panic_on_oops differ.
  const proc = path.join(root, "proc/sys");
  for (const [key, value] of Object.entries({ "vm.overcommit_memory": 0, "vm.panic_on_oom": 0, "kernel.panic": 0, "kernel.panic_on_oops": 0, "kernel.keys.root_maxkeys": 1000000, "kernel.keys.root_maxbytes": 25000000 })) {
    const file = path.join(proc, ...key.split("."));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${value}\n`);
  }
  // procps' `sysctl --system`: every file in file-name order, a later one winning (`-p <file>`: that
  // file alone); nothing when
  // /proc/sys is read-only (a container), which the marker file stands for.
  stub(stubs, "sysctl", `echo "sysctl $*" >> "${log}"
[ -e "${root}/proc-readonly" ] && { echo "sysctl: permission denied" >&2; exit 255; }
case "$1" in --system) files="$(ls "$SYSCTL_DIR" | sort | sed "s|^|$SYSCTL_DIR/|")" ;; -p) files="$2" ;; *) exit 2 ;; esac
for f in $files; do
  while IFS='=' read -r k v; do case "$k" in ''|'#'*) continue;; esac; echo "$v" > "$PROC_SYS_DIR/\${k//.//}"; done < "$f"
done`);
  stub(stubs, "id", `echo 0`);
  return { root, stubs, log, proc, sysctlDir: path.join(root, "sysctl.d"), envFile: (unit: string) => path.join(root, "systemd", `${unit}.service.env`), tokenFile: path.join(root, "data/server/token") };
}

function run(box: ReturnType<typeof sandbox>, env: Record<string, string>) {
  fs.writeFileSync(box.log, "");
  fs.writeFileSync(path.join(box.root, "kubectl.log"), "");
  const r = spawnSync("bash", [SCRIPT], {
    encoding: "utf8",
    env: {
      PATH: `${box.stubs}:${process.env.PATH}`, K3S_CONFIG_DIR: path.join(box.root, "etc"), BIN_DIR: path.join(box.root, "bin"),
      SYSTEMD_DIR: path.join(box.root, "systemd"), K3S_DATA_DIR: path.join(box.root, "data"),
      SYSCTL_DIR: box.sysctlDir, PROC_SYS_DIR: box.proc,
      SYSCTL_CONF_B64: b64(kubeletSysctlConf()), ADMISSION_CONFIG_B64: b64(stableYaml(admissionConfiguration())), AUDIT_POLICY_B64: b64(stableYaml(auditPolicy())),
      K3S_ROLE: "server", K3S_VERSION: "v1.35.9+k3s1", K3S_TOKEN: "token", ROLLOUTS_VERSION: "v1.9.0", ROLLOUTS_SUMS_FILE: path.join(box.root, "rollouts.sums"),
      K3S_CONFIG_B64: b64("tls-san: [198.51.100.1]\n"), REGISTRIES_B64: b64("mirrors: {}\n"), PULUMI_ACCESS_B64: b64(pulumiAccessManifest()), ...env,
    },
  });
  return { ...r, calls: fs.readFileSync(box.log, "utf8"), kubectl: fs.readFileSync(path.join(box.root, "kubectl.log"), "utf8") };
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

  it("#14 the rollouts plugin is installed only when its sha256 matches the pin; the pinned version has a sum for amd64 and arm64", () => {
    expect(fs.readFileSync(path.join(sandbox().root, "rollouts.sums"), "utf8")).toContain(PLUGIN_STUB_SHA256);
    const wrong = sandbox();
    fs.writeFileSync(path.join(wrong.root, "rollouts.sums"), `v1.9.0 amd64 ${"0".repeat(64)}\nv1.9.0 arm64 ${"0".repeat(64)}\n`);
    const r = run(wrong, {});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/does not match its pinned sha256/);
    expect(fs.existsSync(path.join(wrong.root, "bin/kubectl-argo-rollouts"))).toBe(false);
    const unpinned = run(sandbox(), { ROLLOUTS_VERSION: "v9.9.9" });
    expect(unpinned.status).not.toBe(0);
    expect(unpinned.stderr).toMatch(/no sha256 pinned for kubectl-argo-rollouts v9\.9\.9/);
    // The table the servers use (not the test's): the versions.ts pin, both architectures, 64 hex each.
    const script = fs.readFileSync(SCRIPT, "utf8");
    for (const arch of ["amd64", "arm64"]) {
      expect(script, `${versions.kubectlArgoRollouts} ${arch}`).toMatch(new RegExp(`^\\s*(rollouts_sums=")?${versions.kubectlArgoRollouts.replace(/\./g, "\\.")} ${arch} [0-9a-f]{64}"?$`, "m"));
    }
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

  it("#6 a server applies the stack's ServiceAccount, binding and token Secret once the API is ready; agents do not", () => {
    const box = sandbox();
    const r = run(box, {});
    expect(r.status, r.stderr).toBe(0);
    expect(r.kubectl).toContain("kubectl apply --server-side --force-conflicts --field-manager=platform-install -f -");
    expect(r.kubectl).toContain(pulumiAccessManifest());
    const agent = run(sandbox(), { K3S_ROLE: "agent", K3S_URL: "https://10.0.1.11:6443", ROLLOUTS_VERSION: "", PULUMI_ACCESS_B64: "" });
    expect(agent.status, agent.stderr).toBe(0);
    expect(agent.kubectl).toBe("");
  });

  it("#3 a new K3S_TOKEN the cluster was not rotated to stops the install, says what to do, and changes nothing", () => {
    const box = sandbox();
    expect(run(box, { K3S_TOKEN: "first-token" }).status).toBe(0);
    const r = run(box, { K3S_TOKEN: "second-token" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("sudo k3s token rotate --new-token");
    expect(r.stderr).not.toContain("second-token");
    expect(fs.readFileSync(box.envFile("k3s"), "utf8")).toBe("K3S_TOKEN='first-token'\n");
    expect(r.calls).not.toContain("systemctl");
  });

  it("#3 after `k3s token rotate`, the new token reaches the server's environment and K3s restarts once", () => {
    const box = sandbox();
    expect(run(box, { K3S_TOKEN: "first-token" }).status).toBe(0);
    // What `k3s token rotate --new-token second-token` leaves behind (pkg/server/handlers/token.go WriteToken).
    fs.writeFileSync(box.tokenFile, "K10cafe::server:second-token\n");
    const r = run(box, { K3S_TOKEN: "second-token" });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(box.envFile("k3s"), "utf8")).toBe("K3S_TOKEN='second-token'\n");
    expect(r.calls).toBe("systemctl restart k3s\n");
    const again = run(box, { K3S_TOKEN: "second-token" });
    expect(again.calls).toBe("");
  });

  it("#3 an agent takes the rotated token and restarts k3s-agent", () => {
    const box = sandbox();
    const agent = { K3S_ROLE: "agent", K3S_URL: "https://10.0.1.11:6443", ROLLOUTS_VERSION: "", PULUMI_ACCESS_B64: "" };
    expect(run(box, { ...agent, K3S_TOKEN: "first-token" }).status).toBe(0);
    const r = run(box, { ...agent, K3S_TOKEN: "second-token" });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(box.envFile("k3s-agent"), "utf8")).toBe("K3S_TOKEN='second-token'\n");
    expect(r.calls).toBe("systemctl restart k3s-agent\n");
  });
});

describe("install-k3s.sh hardens K3s per the CIS guide (issue 14 #3)", () => {
  const procValue = (box: ReturnType<typeof sandbox>, key: string) => fs.readFileSync(path.join(box.proc, ...key.split(".")), "utf8").trim();

  it("#14 the kubelet's kernel parameters are written and in effect before K3s is installed; a second run leaves them alone", () => {
    const box = sandbox();
    const r = run(box, {});
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(box.sysctlDir, "90-kubelet.conf"), "utf8")).toBe(kubeletSysctlConf());
    for (const [key, value] of Object.entries(KUBELET_SYSCTLS)) expect(procValue(box, key), key).toBe(String(value));
    const calls = r.calls.split("\n");
    expect(calls.indexOf("sysctl --system")).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf("sysctl --system")).toBeLessThan(calls.indexOf("installer server v1.35.9+k3s1"));
    const again = run(box, {});
    expect(again.calls).toBe("");
    expect(again.stdout).not.toContain("kernel parameters");
  });

  it("#14 a later file that sets one otherwise stops the install before K3s starts, naming the parameter", () => {
    const box = sandbox();
    fs.mkdirSync(box.sysctlDir, { recursive: true });
    fs.writeFileSync(path.join(box.sysctlDir, "99-local.conf"), "vm.overcommit_memory=0\n");
    const r = run(box, {});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("vm.overcommit_memory is 0, the kubelet needs 1");
    expect(r.stderr).toContain("sorting after");
    expect(r.calls).not.toContain("installer");
  });

  it("#14 day two: a kubelet that set the values itself hides a later file in /proc/sys; the new sysctl file is applied anyway and the file found", () => {
    const box = sandbox();
    // Before protect-kernel-defaults the kubelet wrote the values it wants (KernelTunableModify).
    for (const [key, value] of Object.entries(KUBELET_SYSCTLS)) fs.writeFileSync(path.join(box.proc, ...key.split(".")), `${value}\n`);
    fs.mkdirSync(box.sysctlDir, { recursive: true });
    fs.writeFileSync(path.join(box.sysctlDir, "99-local.conf"), "kernel.panic=0\n");
    const r = run(box, {});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("kernel.panic is 0, the kubelet needs 10");
  });

  it("#14 a read-only /proc/sys (a container) stops the install with what to do", () => {
    const box = sandbox();
    fs.writeFileSync(path.join(box.root, "proc-readonly"), "");
    const r = run(box, { K3S_ROLE: "agent", K3S_URL: "https://10.0.1.11:6443", ROLLOUTS_VERSION: "", PULUMI_ACCESS_B64: "" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/kernel.panic is 0, the kubelet needs 10[\s\S]*read-only/);
    expect(r.calls).not.toContain("installer");
  });

  it("#14 a server writes psa.yaml and audit.yaml where its flags point, private, with a private log directory; a change restarts K3s", () => {
    // The script writes under its data dir; the flags name the default one.
    const script = fs.readFileSync(SCRIPT, "utf8");
    const dataDir = /data_dir="\$\{K3S_DATA_DIR:-([^}]+)\}"/.exec(script)![1];
    expect(`${dataDir}/server/psa.yaml`).toBe(HARDENING_PATHS.admission);
    expect(`${dataDir}/server/audit.yaml`).toBe(HARDENING_PATHS.auditPolicy);
    expect(`${dataDir}/server/logs/audit.log`).toBe(HARDENING_PATHS.auditLog);
    const box = sandbox();
    expect(run(box, {}).status).toBe(0);
    const server = path.join(box.root, "data/server");
    expect(fs.readFileSync(path.join(server, "psa.yaml"), "utf8")).toBe(stableYaml(admissionConfiguration()));
    expect(fs.readFileSync(path.join(server, "audit.yaml"), "utf8")).toBe(stableYaml(auditPolicy()));
    const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
    expect(mode(path.join(server, "psa.yaml"))).toBe("600");
    expect(mode(path.join(server, "logs"))).toBe("700");
    const changed = run(box, { AUDIT_POLICY_B64: b64(stableYaml({ ...auditPolicy(), rules: [{ level: "Metadata" }] })) });
    expect(changed.status, changed.stderr).toBe(0);
    expect(changed.calls).toBe("systemctl restart k3s\n");
    // Agents run no API server: neither file, and not required.
    const agent = sandbox();
    const a = run(agent, { K3S_ROLE: "agent", K3S_URL: "https://10.0.1.11:6443", ROLLOUTS_VERSION: "", PULUMI_ACCESS_B64: "", ADMISSION_CONFIG_B64: "", AUDIT_POLICY_B64: "" });
    expect(a.status, a.stderr).toBe(0);
    expect(fs.existsSync(path.join(agent.root, "data/server/psa.yaml"))).toBe(false);
    expect(fs.readFileSync(path.join(agent.sysctlDir, "90-kubelet.conf"), "utf8")).toBe(kubeletSysctlConf());
    const missing = run(sandbox(), { ADMISSION_CONFIG_B64: "" });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain("ADMISSION_CONFIG_B64 is required on a server");
  });
});

describe("install-k3s.sh a year later (issue 10 #6)", () => {
  // K3s renews certificates only at start, when they expire within 90 days; `k3s kubectl` in this
  // script uses the admin client certificate, so a year of uptime would lock the install out.
  const cert = (box: ReturnType<typeof sandbox>, days: number) => {
    const dir = path.join(box.root, "data/server/tls");
    fs.mkdirSync(dir, { recursive: true });
    const r = spawnSync(openssl.bin("openssl"), ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=system:admin",
      "-days", String(days), "-keyout", path.join(dir, "client-admin.key"), "-out", path.join(dir, "client-admin.crt")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  };
  const openssl = needs("openssl");
  openssl.it("an admin certificate expiring within 90 days restarts K3s (which renews it) before using it; a fresh one does not", () => {
    const box = sandbox();
    expect(run(box, {}).status).toBe(0);
    cert(box, 30);
    const soon = run(box, {});
    expect(soon.status, soon.stderr).toBe(0);
    expect(soon.stdout).toMatch(/expires within 90 days; restarting k3s/);
    expect(soon.calls).toContain("systemctl restart k3s");
    cert(box, 365);
    const fresh = run(box, {});
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.calls).not.toContain("systemctl restart");
  });
});
