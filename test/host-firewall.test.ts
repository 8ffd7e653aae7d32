// #13.3 the homelab host firewall (components/host/scripts/host-firewall.sh) for real: the exact
// stdin and command the program sends, inside a network namespace of its own, with a second
// namespace as the LAN sending real SYNs from an address inside platform:adminCidr, one outside it,
// and one in the pod range. A pre-existing "allow SSH from anywhere" rule stands for ufw's. Needs
// root (or passwordless sudo), iproute2 and iptables; the host's own firewall is never touched.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostFirewallScript, REMOVE_FIREWALL, RUN_FIREWALL } from "../components/host/host-firewall";
import { FIREWALL_TCP_PORTS, FIREWALL_UDP_PORTS } from "../components/host/cloud-init";
import { RUN_STDIN_AS_ROOT } from "../components/lib/scripts";
import { needs } from "./helpers/binaries";
import { MOCK_HOST_KEY, plain, unwrap } from "./helpers/mocks";
import { runStack, stackFileConfig } from "./helpers/stack";

/** The value scriptWithEnv exports for `name` in a remote command's stdin. */
const exported = (stdin: string, name: string) => {
  const m = new RegExp(`export ${name}="\\$\\(printf '%s' '([^']*)'`).exec(stdin);
  return m ? Buffer.from(m[1], "base64").toString("utf8") : undefined;
};

describe("#13.3 what the stacks expose", () => {
  it("homelab: platform:adminCidr reaches the host firewall, which runs before K3s and after the preflight", async () => {
    const run = await runStack("homelab", { config: { "platform:adminCidr": "192.168.1.0/24" } });
    const regs = [...run.engine.resources.values()];
    const fw = regs.find((r) => r.name === "homelab-firewall")!;
    expect(fw.type).toBe("command:remote:Command");
    expect(exported(plain(fw.inputs.stdin), "ADMIN_CIDR")).toBe("192.168.1.0/24");
    expect(exported(plain(fw.inputs.stdin), "SSH_PORT")).toBe("22");
    expect(fw.inputs.create).toBe(RUN_FIREWALL);
    expect(fw.inputs.update).toBe(RUN_FIREWALL);
    expect(fw.inputs.delete).toBe(REMOVE_FIREWALL);
    expect(fw.dependencies).toContain(regs.find((r) => r.name === "homelab-preflight")!.urn);
    expect(regs.find((r) => r.name === "k3s-server")!.dependencies).toContain(fw.urn);
  });

  it("#13.3 oci: every node re-applies oci-firewall.sh over its pinned connection, with the VCN env, before K3s (cloud-init ran it once, at launch)", async () => {
    const run = await runStack("oci", { config: { "platform:nodeCount": "2", "platform:ocpus": "1", "platform:memoryGb": "6" } });
    const regs = [...run.engine.resources.values()];
    const script = fs.readFileSync(path.join(__dirname, "../components/host/scripts/oci-firewall.sh"), "utf8");
    for (const [node, install] of [["server-0", "k3s-server"], ["agent-1", "k3s-agent-1"]]) {
      const fw = regs.find((r) => r.name === `oci-${node}-firewall`);
      expect(fw, `oci-${node}-firewall`).toBeDefined();
      expect(fw!.type).toBe("command:remote:Command");
      const stdin = plain(fw!.inputs.stdin) as string;
      expect(exported(stdin, "VCN_CIDR")).toBe("10.0.0.0/16");
      expect(exported(stdin, "POD_CIDR")).toBe("10.42.0.0/16");
      expect(exported(stdin, "SERVICE_CIDR")).toBe("10.43.0.0/16");
      expect(exported(stdin, "TCP_PORTS")).toBe(FIREWALL_TCP_PORTS.join(" "));
      expect(exported(stdin, "UDP_PORTS")).toBe(FIREWALL_UDP_PORTS.join(" "));
      expect(stdin).toContain(script.replace(/^#!.*\n/, ""));
      expect(fw!.inputs.create).toBe(RUN_STDIN_AS_ROOT);
      expect(fw!.inputs.update).toBe(RUN_STDIN_AS_ROOT);
      expect(plain(fw!.inputs.connection).hostKey).toBe(MOCK_HOST_KEY.pub);
      expect(fw!.dependencies).toContain(regs.find((r) => r.name === `oci-${node}-cloud-init`)!.urn);
      const k3s = regs.find((r) => r.name === install);
      expect(k3s, install).toBeDefined();
      expect(k3s!.dependencies, `${install} waits for the firewall`).toContain(fw!.urn);
    }
  });

  it("oci: only 80/443 (and ICMP fragmentation-needed) from the internet; 22 and 6443 from adminCidr; the rest from the VCN", async () => {
    const run = await runStack("oci");
    const list = run.created.find((c) => c.type === "oci:Core/securityList:SecurityList")!;
    const rules = plain(list.inputs.ingressSecurityRules) as { source: string; protocol: string; tcpOptions?: { min: number; max: number } }[];
    const adminCidr = stackFileConfig("oci")["platform:adminCidr"];
    const world = rules.filter((r) => r.source === "0.0.0.0/0");
    expect(world.map((r) => (r.tcpOptions ? `tcp ${r.tcpOptions.min}-${r.tcpOptions.max}` : `proto ${r.protocol}`)).sort()).toEqual(["proto 1", "tcp 443-443", "tcp 80-80"]);
    const nodePorts = rules.filter((r) => r.tcpOptions && r.tcpOptions.max >= 30000);
    expect(nodePorts.map((r) => r.source)).toEqual(["10.0.0.0/16"]);
    for (const port of [22, 6443]) {
      const from = rules.filter((r) => r.tcpOptions && r.tcpOptions.min <= port && r.tcpOptions.max >= port).map((r) => r.source);
      expect(from.every((s) => s === adminCidr || s === "10.0.0.0/16"), `${port}: ${from}`).toBe(true);
    }
  });
});

const HOST = "192.168.50.2";
const ADMIN = "192.168.50.10";
const OUTSIDER = "192.168.50.100";
const POD = "10.42.0.5";
const ADMIN_CIDR = "192.168.50.0/28";
const REGISTRY_NODEPORT = 30500;
// sshd and K3s listen on every address family: the host's IPv6 address and a LAN peer's.
const HOST6 = "fd00:50::2";
const LAN6 = "fd00:50::10";

const tools = needs("root", "ip", "iptables", "iptables-save");

tools.describe("#13.3 host-firewall.sh in a network namespace (homelab adminCidr applied)", () => {
  const tag = `hfw${process.pid % 100000}`;
  const host = `${tag}-host`;
  const lan = `${tag}-lan`;
  let box: string;
  const sh = (argv: string[], input?: string, env?: Record<string, string>) => {
    const full = [...tools.asRoot, ...argv];
    const r = spawnSync(full[0], full.slice(1), { encoding: "utf8", input, timeout: 20_000, env: { ...process.env, ...env } });
    return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "" };
  };
  const must = (argv: string[], input?: string) => {
    const r = sh(argv, input);
    if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}\n${r.out}`);
    return r.stdout;
  };
  const inHost = (...argv: string[]) => ["ip", "netns", "exec", host, ...argv];
  const saved = (tool: string, tag = "") => must(inHost(tool)).split("\n").filter((l) => l.startsWith("-A ") || l.startsWith(":PLATFORM")).map((l) => `${tag}${l.replace(/ \[\d+:\d+\]$/, "")}`);
  const rules = () => [...saved("iptables-save"), ...saved("ip6tables-save", "v6 ")];
  /** What a TCP connect from the LAN meets: "passes" (the host's stack answers RST) or "dropped". */
  const connect = (from: string, port: number, to: string = HOST) => {
    const probe = `const s = require("net").connect({ port: ${port}, host: "${to}", localAddress: "${from}" }); s.setTimeout(1500, () => { console.log("dropped"); process.exit(); });
      s.on("connect", () => { console.log("open"); process.exit(); }); s.on("error", (e) => { console.log(e.code); process.exit(); });`;
    const out = sh(["ip", "netns", "exec", lan, process.execPath, "-e", probe]).out.trim();
    return ({ ECONNREFUSED: "passes", dropped: "dropped" } as Record<string, string>)[out] ?? `other: ${out}`;
  };
  const matrix = (from: string, to: string = HOST) => Object.fromEntries([22, 6443, REGISTRY_NODEPORT, 80, 443].map((p) => [p, connect(from, p, to)]));

  /** The program's exact command (RUN_FIREWALL or REMOVE_FIREWALL) and stdin, in the host namespace, as if over SSH from `client`. */
  async function run(command: string, adminCidr: string | undefined, client: string) {
    const stdin = await unwrap(hostFirewallScript({ adminCidr, sshPort: 22 }));
    const env = [`PATH=${path.join(box, "bin")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      `SSH_CLIENT=${client} 51234 22`, `CONF_FILE=${box}/platform-host-firewall`, `UNIT_DIR=${box}/systemd`];
    return sh(inHost("env", ...env, "bash", "-c", command), stdin);
  }

  beforeAll(() => {
    box = fs.mkdtempSync(path.join(os.tmpdir(), "host-firewall-"));
    fs.chmodSync(box, 0o755);
    must(["ip", "netns", "add", host]);
    must(["ip", "netns", "add", lan]);
    must(["ip", "link", "add", `${tag}h`, "type", "veth", "peer", "name", `${tag}l`]);
    must(["ip", "link", "set", `${tag}h`, "netns", host]);
    must(["ip", "link", "set", `${tag}l`, "netns", lan]);
    must(["ip", "-n", host, "addr", "add", `${HOST}/24`, "dev", `${tag}h`]);
    for (const a of [`${ADMIN}/24`, `${OUTSIDER}/24`, `${POD}/16`]) must(["ip", "-n", lan, "addr", "add", a, "dev", `${tag}l`]);
    must(["ip", "-n", host, "addr", "add", `${HOST6}/64`, "dev", `${tag}h`, "nodad"]);
    must(["ip", "-n", lan, "addr", "add", `${LAN6}/64`, "dev", `${tag}l`, "nodad"]);
    must(["ip", "-n", host, "link", "set", `${tag}h`, "up"]);
    must(["ip", "-n", lan, "link", "set", `${tag}l`, "up"]);
    must(["ip", "-n", host, "link", "set", "lo", "up"]);
    // Replies to the pod range go back over the LAN link (on a node they go to cni0).
    must(["ip", "-n", host, "route", "add", "10.42.0.0/16", "dev", `${tag}h`]);
    // ufw's "allow 22/tcp": the platform's chain must still come first.
    must(inHost("iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"));
    // sudo -n as the SSH user would run it: here we are root already.
    const stubs = path.join(box, "bin");
    fs.mkdirSync(stubs);
    fs.writeFileSync(path.join(stubs, "sudo"), `#!/usr/bin/env bash\n[ "$1" = -n ] && shift\nexec "$@"\n`, { mode: 0o755 });
  });

  afterAll(() => {
    sh(["ip", "netns", "del", host]);
    sh(["ip", "netns", "del", lan]);
    if (box) fs.rmSync(box, { recursive: true, force: true });
  });

  it("before: everything reaches the host from anywhere", () => {
    expect(matrix(OUTSIDER)).toEqual({ 22: "passes", 6443: "passes", [REGISTRY_NODEPORT]: "passes", 80: "passes", 443: "passes" });
    expect(matrix(LAN6, HOST6)).toEqual({ 22: "passes", 6443: "passes", [REGISTRY_NODEPORT]: "passes", 80: "passes", 443: "passes" });
  });

  it("refuses an adminCidr that would lock out the SSH connection applying it, and changes nothing", async () => {
    const before = rules();
    const r = await run(RUN_FIREWALL, ADMIN_CIDR, OUTSIDER);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`this SSH connection comes from ${OUTSIDER}, outside platform:adminCidr ${ADMIN_CIDR}: applying it would lock Pulumi out`);
    expect(rules()).toEqual(before);
  });

  it("refuses an SSH connection over IPv6 (adminCidr is IPv4; SSH over IPv6 closes with it), and changes nothing", async () => {
    const before = rules();
    for (const client of [LAN6, "2001:db8::7"]) {
      const r = await run(RUN_FIREWALL, ADMIN_CIDR, client);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain(`this SSH connection comes from ${client}, not an IPv4 address`);
    }
    expect(rules()).toEqual(before);
  });

  it("applied: SSH and the API only from adminCidr (and the API from pods), NodePorts not from outside, 80/443 from anywhere", async () => {
    const r = await run(RUN_FIREWALL, ADMIN_CIDR, ADMIN);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`host-firewall: applied (adminCidr ${ADMIN_CIDR})`);
    expect(matrix(ADMIN)).toEqual({ 22: "passes", 6443: "passes", [REGISTRY_NODEPORT]: "passes", 80: "passes", 443: "passes" });
    expect(matrix(OUTSIDER)).toEqual({ 22: "dropped", 6443: "dropped", [REGISTRY_NODEPORT]: "dropped", 80: "passes", 443: "passes" });
    expect(matrix(POD)).toEqual({ 22: "dropped", 6443: "passes", [REGISTRY_NODEPORT]: "passes", 80: "passes", 443: "passes" });
    // adminCidr is an IPv4 range: no IPv6 source is in it, so SSH and the API are closed over IPv6 too
    // (kube-proxy serves NodePorts on IPv4 only in a single-stack cluster; a socket here answers anyway).
    expect(matrix(LAN6, HOST6)).toEqual({ 22: "dropped", 6443: "dropped", [REGISTRY_NODEPORT]: "passes", 80: "passes", 443: "passes" });
    // Persisted: the settings and a unit that re-applies them at boot, before K3s.
    expect(fs.readFileSync(path.join(box, "platform-host-firewall"), "utf8")).toContain(`ADMIN_CIDR=${ADMIN_CIDR.replace("/", "/")}`);
    const unit = fs.readFileSync(path.join(box, "systemd/platform-host-firewall.service"), "utf8");
    expect(unit).toMatch(/Before=k3s\.service/);
    expect(unit).toMatch(/Environment=ACTION=boot/);
  });

  it("a second run adds nothing", async () => {
    const before = rules();
    const r = await run(RUN_FIREWALL, ADMIN_CIDR, ADMIN);
    expect(r.code, r.out).toBe(0);
    expect(rules()).toEqual(before);
  });

  it("after a reboot (rules gone) the boot unit's command restores the same rules from the saved settings", async () => {
    const applied = rules();
    for (const argv of [["-F", "INPUT"], ["-t", "mangle", "-F", "PREROUTING"], ["-F", "PLATFORM-INPUT"], ["-X", "PLATFORM-INPUT"], ["-t", "mangle", "-F", "PLATFORM-NODEPORTS"], ["-t", "mangle", "-X", "PLATFORM-NODEPORTS"]]) {
      must(inHost("iptables", ...argv));
    }
    must(inHost("iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"));
    expect(connect(OUTSIDER, 22)).toBe("passes");
    const script = path.join(box, "boot-copy.sh");
    fs.writeFileSync(script, fs.readFileSync(path.join(__dirname, "../components/host/scripts/host-firewall.sh")), { mode: 0o755 });
    const r = sh(inHost("env", "ACTION=boot", `CONF_FILE=${box}/platform-host-firewall`, "bash", script));
    expect(r.code, r.out).toBe(0);
    expect(rules()).toEqual(applied);
    expect(connect(OUTSIDER, 22)).toBe("dropped");
  });

  it("a new adminCidr is applied in place: the old range loses SSH, the new one gets it", async () => {
    const r = await run(RUN_FIREWALL, "192.168.50.96/28", OUTSIDER);
    expect(r.code, r.out).toBe(0);
    expect(connect(OUTSIDER, 22)).toBe("passes");
    expect(connect(ADMIN, 22)).toBe("dropped");
    expect(connect(ADMIN, REGISTRY_NODEPORT)).toBe("dropped");
  });

  it("destroy removes the platform's chains and unit; ufw's own rule is left", async () => {
    const r = await run(REMOVE_FIREWALL, ADMIN_CIDR, ADMIN);
    expect(r.code, r.out).toBe(0);
    expect(rules().filter((l) => l.includes("PLATFORM"))).toEqual([]);
    expect(rules()).toContain("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT");
    expect(matrix(ADMIN)).toEqual({ 22: "passes", 6443: "passes", [REGISTRY_NODEPORT]: "passes", 80: "passes", 443: "passes" });
    expect(connect(LAN6, 22, HOST6)).toBe("passes");
    expect(rules().filter((l) => l.includes("PLATFORM"))).toEqual([]);
    expect(fs.existsSync(path.join(box, "systemd/platform-host-firewall.service"))).toBe(false);
  });
});
