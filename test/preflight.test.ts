// The homelab preflight (components/host/scripts/preflight.sh) run for real, as the BareMetalHost's
// remote Command runs it: its `create` (RUN_STDIN) in bash with the generated stdin (inputs exported
// from base64, then the script), against a stubbed host: os-release and meminfo files, uname, df and
// sudo on a PATH that holds nothing else.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Created, find, mocks, plain, settle } from "./helpers/mocks";
import { onlyTools, stub } from "./helpers/stubs";

const UBUNTU_2404 = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n';
let command: { create: string; stdin: string };

beforeAll(async () => {
  const created: Created[] = [];
  pulumi.runtime.setMocks(mocks(created), "gitops-platform", "homelab", false);
  const { BareMetalHost } = await import("../components/host/bare-metal-host");
  new BareMetalHost("homelab", { address: "192.0.2.10", user: "ubuntu", port: 22, privateKey: pulumi.secret("k"), hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGFRxgcfBJfK7xOlv5r75XsgtJhsQuVsX7Ou3Z7RBTDJ", cpus: 4, memoryGb: 16, minMemoryMb: 13824 });
  await settle();
  const pre = find(created, "command:remote:Command", (c) => c.name === "homelab-preflight");
  command = { create: pre.inputs.create, stdin: plain(pre.inputs.stdin) };
});

const boxes: string[] = [];
afterEach(() => { for (const b of boxes.splice(0)) fs.rmSync(b, { recursive: true, force: true }); });

interface Host {
  osRelease?: string | null; arch?: string; memTotalKb?: number; freeDiskGb?: number; sudo?: boolean; without?: string[];
  /** Kernel parameters as /proc/sys shows them (default: Ubuntu's, overcommit and panics unset); null: absent. */
  sysctls?: Record<string, number | null>;
  procReadOnly?: boolean;
  /** Files in the host's sysctl.d (name -> content); `sysctl.conf` is /etc/sysctl.conf. */
  sysctlFiles?: Record<string, string>;
}

const UBUNTU_SYSCTLS = { "vm.overcommit_memory": 0, "vm.panic_on_oom": 0, "kernel.panic": 0, "kernel.panic_on_oops": 0, "kernel.keys.root_maxkeys": 1000000, "kernel.keys.root_maxbytes": 25000000 };

function preflight(h: Host = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-"));
  boxes.push(root);
  const tools = ["bash", "env", "cat", "rm", "mktemp", "base64", "awk", "id", "curl", "systemctl"].filter((t) => !(h.without ?? []).includes(t));
  // curl and systemctl only need to exist: stand-ins when this machine has none.
  const bin = onlyTools(path.join(root, "bin"), tools.filter((t) => !["curl", "systemctl"].includes(t)));
  for (const t of ["curl", "systemctl"].filter((x) => tools.includes(x))) stub(bin, t, "exit 0");
  stub(bin, "uname", `[ "$1" = -m ] && echo ${h.arch ?? "aarch64"}`);
  stub(bin, "df", `printf 'Filesystem 1G-blocks Used Available Capacity Mounted on\\n/dev/sda1 100G 10G ${h.freeDiskGb ?? 60}G 15%% /\\n'`);
  stub(bin, "sudo", `[ "$1" = -n ] || exit 2; exit ${h.sudo === false ? 1 : 0}`);
  const osRelease = path.join(root, "os-release");
  if (h.osRelease !== null) fs.writeFileSync(osRelease, h.osRelease ?? UBUNTU_2404);
  const meminfo = path.join(root, "meminfo");
  fs.writeFileSync(meminfo, `MemTotal:       ${h.memTotalKb ?? 16_318_464} kB\nMemFree:         1000000 kB\n`);
  const proc = path.join(root, "proc/sys");
  for (const [key, value] of Object.entries({ ...UBUNTU_SYSCTLS, ...h.sysctls })) {
    if (value === null) continue;
    const file = path.join(proc, ...key.split("."));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${value}\n`);
  }
  const mounts = path.join(root, "mounts");
  fs.writeFileSync(mounts, `proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n${h.procReadOnly ? "proc /proc/sys proc ro,nosuid,nodev,noexec,relatime 0 0\n" : ""}`);
  const sysctlDir = path.join(root, "sysctl.d");
  fs.mkdirSync(sysctlDir);
  for (const [name, content] of Object.entries(h.sysctlFiles ?? {})) fs.writeFileSync(name === "sysctl.conf" ? path.join(root, name) : path.join(sysctlDir, name), content);
  fs.mkdirSync(path.join(root, "home"));
  fs.mkdirSync(path.join(root, "tmp"));
  const r = spawnSync("/bin/bash", ["-c", command.create], {
    input: command.stdin, encoding: "utf8", timeout: 20_000,
    env: { PATH: bin, HOME: path.join(root, "home"), TMPDIR: path.join(root, "tmp"), PREFLIGHT_OS_RELEASE: osRelease, PREFLIGHT_MEMINFO: meminfo,
      PREFLIGHT_PROC_SYS: proc, PREFLIGHT_MOUNTS: mounts, PREFLIGHT_SYSCTL_DIRS: `${sysctlDir} ${path.join(root, "no-such-dir")}`, PREFLIGHT_SYSCTL_CONF: path.join(root, "sysctl.conf") },
  });
  expect(fs.readdirSync(path.join(root, "tmp")), "RUN_STDIN removes its script").toEqual([]);
  return { code: r.status, out: r.stdout, err: r.stderr.trim() };
}

describe("preflight.sh as the BareMetalHost runs it", () => {
  it("PM-07 a fitting Ubuntu host passes every check (memory against the budget's minimum)", () => {
    const r = preflight();
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n")).toEqual([
      "preflight: os ok (Ubuntu 24.04.1 LTS)", "preflight: architecture ok (aarch64)", "preflight: memory ok (15936 MB >= 13824 MB)",
      "preflight: disk ok (60 GB free on /var/lib)", "preflight: sudo ok", "preflight: tools ok",
      "preflight: kernel parameters ok (3 to be set by the install before K3s starts)",
    ]);
  });

  it("#14 kernel parameters: what the install cannot fix stops the preflight, naming the parameter and why", () => {
    const ok = preflight({ sysctls: { "vm.overcommit_memory": 1, "kernel.panic": 10, "kernel.panic_on_oops": 1 }, sysctlFiles: { "10-local.conf": "vm.overcommit_memory = 0\n", "99-other.conf": "kernel.panic = 10\n" } });
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain("kernel parameters ok (0 to be set");
    const later = preflight({ sysctlFiles: { "99-tuning.conf": "# mine\nvm.overcommit_memory = 2\n" } });
    expect(later.code).toBe(1);
    expect(later.err).toMatch(/99-tuning.conf sets vm.overcommit_memory=2 and is applied after the install's 90-kubelet.conf \(vm.overcommit_memory=1\)/);
    const conf = preflight({ sysctlFiles: { "sysctl.conf": "kernel.panic=0\n" } });
    expect(conf.err).toMatch(/sysctl.conf sets kernel.panic=0/);
    const readOnly = preflight({ procReadOnly: true });
    expect([readOnly.code, readOnly.err]).toEqual([1, "preflight: FAILED: kernel parameter vm.overcommit_memory is 0, the kubelet (protect-kernel-defaults) needs 1, and /proc/sys is read-only here (a container?): set it on the host"]);
    // Read-only is fine when nothing needs to change.
    expect(preflight({ procReadOnly: true, sysctls: { "vm.overcommit_memory": 1, "kernel.panic": 10, "kernel.panic_on_oops": 1 } }).code).toBe(0);
    const absent = preflight({ sysctls: { "kernel.keys.root_maxbytes": null } });
    expect(absent.err).toMatch(/kernel parameter kernel.keys.root_maxbytes is not available here/);
  });

  it("PM-07 too little memory for the budget fails, naming both numbers", () => {
    const r = preflight({ memTotalKb: 8_000_000 });
    expect([r.code, r.err]).toEqual([1, "preflight: FAILED: memory is 7812 MB; the platform budget needs at least 13824 MB"]);
  });

  it.each<[string, Host, string]>([
    ["not Ubuntu", { osRelease: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' }, "operating system is Debian GNU/Linux 12 (bookworm); the homelab stack supports Ubuntu (22.04 or newer)"],
    ["Ubuntu 20.04", { osRelease: 'PRETTY_NAME="Ubuntu 20.04.6 LTS"\nID=ubuntu\nVERSION_ID="20.04"\n' }, "Ubuntu 20.04 is too old; 22.04 or newer is required"],
    ["no os-release", { osRelease: null }, "cannot tell the operating system"],
    ["32-bit ARM", { arch: "armv7l" }, "architecture armv7l is not supported; x86_64 or aarch64 is required"],
    ["a full disk", { freeDiskGb: 12 }, "free disk on /var/lib is 12 GB; at least 20 GB is required"],
    ["sudo with a password", { sudo: false }, "cannot run sudo without a password; K3s is installed with sudo"],
    ["no curl", { without: ["curl"] }, "curl is not installed"],
  ])("fails on %s, saying why", (_label, host, message) => {
    const r = preflight(host);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^preflight: FAILED: /);
    expect(r.err).toContain(message);
  });
});
