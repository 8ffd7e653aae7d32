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

interface Host { osRelease?: string | null; arch?: string; memTotalKb?: number; freeDiskGb?: number; sudo?: boolean; without?: string[] }

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
  fs.mkdirSync(path.join(root, "home"));
  fs.mkdirSync(path.join(root, "tmp"));
  const r = spawnSync("/bin/bash", ["-c", command.create], {
    input: command.stdin, encoding: "utf8", timeout: 20_000,
    env: { PATH: bin, HOME: path.join(root, "home"), TMPDIR: path.join(root, "tmp"), PREFLIGHT_OS_RELEASE: osRelease, PREFLIGHT_MEMINFO: meminfo },
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
    ]);
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
