// The OCI firewall fix (components/host/scripts/oci-firewall.sh), run for real: cloud-init's exact
// runcmd inside a network namespace of its own, over a copy of the INPUT/FORWARD layout Oracle's
// Ubuntu images load from /etc/iptables/rules.v4 (ending in REJECT icmp-host-prohibited), with a
// second namespace as a VCN neighbour sending real SYNs. Needs root (or passwordless sudo), iproute2
// and iptables; the host's own firewall is never touched.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cloudInit, FIREWALL_TCP_PORTS, ociFirewallScript } from "../components/host/cloud-init";
import { endpoints } from "../components/lib/endpoints";
import { needs } from "./helpers/binaries";
import { unwrap } from "./helpers/mocks";

// Oracle's Ubuntu rules.v4 as users quote it (e.g. wiki.drake.org.uk "Oracle Cloud Hosting:
// Configuring default IPTables", cflee.com "Oracle Cloud: first impressions (II)"), the
// InstanceServices chain shortened to one rule of each kind.
const ORACLE_RULES_V4 = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:InstanceServices - [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p udp -m udp --sport 123 -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
-A OUTPUT -d 169.254.0.0/16 -j InstanceServices
-A InstanceServices -d 169.254.0.2/32 -p tcp -m owner --uid-owner 0 -m tcp --dport 3260 -j ACCEPT
-A InstanceServices -d 169.254.0.0/16 -p tcp -m tcp -j REJECT --reject-with tcp-reset
COMMIT
`;
const VCN = "10.0.0.0/16";
const NODE = "10.0.1.11";
const NEIGHBOUR = "10.0.1.20";
// The same wire, other sources: the internet (outside the VCN) and a pod; the node answers for the metadata service.
const OUTSIDE = "198.51.100.7";
const POD = "10.42.0.5";
const IMDS = "169.254.169.254";

const tools = needs("root", "ip", "iptables", "iptables-save");

tools.describe("oci-firewall.sh in a network namespace over Oracle's REJECT rules", () => {
  const tag = `gfw${process.pid % 100000}`;
  const node = `${tag}-node`;
  const neighbour = `${tag}-nb`;
  let box: string;
  const sh = (argv: string[], input?: string) => {
    const full = [...tools.asRoot, ...argv];
    const r = spawnSync(full[0], full.slice(1), { encoding: "utf8", input, timeout: 20_000 });
    return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "" };
  };
  const must = (argv: string[], input?: string) => {
    const r = sh(argv, input);
    if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}\n${r.out}`);
    return r.stdout;
  };
  const inNode = (...argv: string[]) => ["ip", "netns", "exec", node, ...argv];
  const mangle = () => must(inNode("iptables", "-t", "mangle", "-S")).trim().split("\n").filter((l) => l.startsWith("-A "));
  const rules = (chain: string) => must(inNode("iptables", "-S", chain)).trim().split("\n").filter((l) => l.startsWith("-A "));
  /** What a TCP connect from the neighbour meets: "refused" (reached the node's stack) or "unreachable" (REJECT). */
  const connect = (port: number, from = NEIGHBOUR, to = NODE) => {
    const probe = `const s = require("net").connect({ port: ${port}, host: "${to}", localAddress: "${from}" }); s.setTimeout(${from === NEIGHBOUR ? 5000 : 1500}, () => { console.log("timeout"); process.exit(); });
      s.on("connect", () => { console.log("open"); process.exit(); }); s.on("error", (e) => { console.log(e.code); process.exit(); });`;
    const out = sh(["ip", "netns", "exec", neighbour, process.execPath, "-e", probe]).out.trim();
    return ({ ECONNREFUSED: "refused", EHOSTUNREACH: "unreachable", timeout: "dropped" } as Record<string, string>)[out] ?? `other: ${out}`;
  };

  beforeAll(() => {
    box = fs.mkdtempSync(path.join(os.tmpdir(), "oci-firewall-"));
    fs.chmodSync(box, 0o755);
    must(["ip", "netns", "add", node]);
    must(["ip", "netns", "add", neighbour]);
    must(["ip", "link", "add", `${tag}a`, "type", "veth", "peer", "name", `${tag}b`]);
    must(["ip", "link", "set", `${tag}a`, "netns", node]);
    must(["ip", "link", "set", `${tag}b`, "netns", neighbour]);
    must(["ip", "-n", node, "addr", "add", `${NODE}/24`, "dev", `${tag}a`]);
    must(["ip", "-n", neighbour, "addr", "add", `${NEIGHBOUR}/24`, "dev", `${tag}b`]);
    must(["ip", "-n", node, "link", "set", `${tag}a`, "up"]);
    must(["ip", "-n", neighbour, "link", "set", `${tag}b`, "up"]);
    must(["ip", "-n", neighbour, "addr", "add", `${OUTSIDE}/24`, "dev", `${tag}b`]);
    must(["ip", "-n", neighbour, "addr", "add", `${POD}/16`, "dev", `${tag}b`]);
    must(["ip", "-n", neighbour, "route", "add", `${IMDS}/32`, "via", NODE]);
    must(["ip", "-n", node, "addr", "add", `${IMDS}/32`, "dev", "lo"]);
    must(["ip", "-n", node, "link", "set", "lo", "up"]);
    for (const net of ["198.51.100.0/24", "10.42.0.0/16"]) must(["ip", "-n", node, "route", "add", net, "dev", `${tag}a`]);
    must(inNode("iptables-restore"), ORACLE_RULES_V4);
  });

  afterAll(() => {
    sh(["ip", "netns", "del", node]);
    sh(["ip", "netns", "del", neighbour]);
    if (box) fs.rmSync(box, { recursive: true, force: true });
  });

  /** cloud-init's runcmd and script, verbatim, with the script's path moved into the box. */
  function runCloudInit() {
    const doc = YAML.parse(cloudInit({ vcnCidr: VCN }).replace(/^#cloud-config\n/, ""));
    const file = doc.write_files.find((f: any) => f.path === "/usr/local/sbin/oci-firewall.sh");
    const script = path.join(box, "oci-firewall.sh");
    fs.writeFileSync(script, file.content, { mode: parseInt(file.permissions, 8) });
    const cmd = String(doc.runcmd[0]).replace("/usr/local/sbin/oci-firewall.sh", script);
    return sh(inNode("env", `RULES_V4=${box}/rules.v4`, "sh", "-c", cmd));
  }

  it("before: Oracle's rules reject the Kubernetes API and NodePorts from the VCN (SSH passes)", () => {
    expect(connect(22)).toBe("refused");
    expect(connect(6443)).toBe("unreachable");
    expect(connect(endpoints({ environment: "oci", domain: "example.org", nodeAddress: NODE }).ports.registry)).toBe("unreachable");
  });

  it("the ACCEPT rules land before Oracle's REJECT in INPUT and FORWARD, and are saved to rules.v4", () => {
    const r = runCloudInit();
    expect(r.out).toContain("oci-firewall: K3s ports accepted, NodePorts from the VCN only, saved");
    expect(r.code, r.out).toBe(0);
    const input = rules("INPUT");
    const reject = input.indexOf("-A INPUT -j REJECT --reject-with icmp-host-prohibited");
    expect(reject).toBe(input.length - 1);
    for (const port of FIREWALL_TCP_PORTS) expect(input.indexOf(`-A INPUT -p tcp -m tcp --dport ${port} -j ACCEPT`), `tcp ${port}`).toBeGreaterThanOrEqual(0);
    for (const port of [8472, 51820, 51821]) expect(input, `udp ${port}`).toContain(`-A INPUT -s ${VCN} -p udp -m udp --dport ${port} -j ACCEPT`);
    expect(input).toContain(`-A INPUT -s ${VCN} -p tcp -m tcp --dport 30000:32767 -j ACCEPT`);
    for (const cidr of ["10.42.0.0/16", "10.43.0.0/16"]) expect(input).toContain(`-A INPUT -s ${cidr} -j ACCEPT`);
    const forward = rules("FORWARD");
    expect(forward.at(-1)).toBe("-A FORWARD -j REJECT --reject-with icmp-host-prohibited");
    for (const cidr of ["10.42.0.0/16", "10.43.0.0/16"]) {
      expect(forward).toContain(`-A FORWARD -s ${cidr} -j ACCEPT`);
      expect(forward).toContain(`-A FORWARD -d ${cidr} -j ACCEPT`);
    }
    const saved = fs.readFileSync(path.join(box, "rules.v4"), "utf8");
    for (const rule of [...input, ...forward]) expect(saved).toContain(rule);
    for (const rule of mangle()) expect(saved).toContain(rule);
  });

  it("after: the neighbour's SYNs to the API and a NodePort reach the node; other ports stay rejected", () => {
    expect(connect(6443)).toBe("refused");
    expect(connect(endpoints({ environment: "oci", domain: "example.org", nodeAddress: NODE }).ports.registry)).toBe("refused");
    expect(connect(5432)).toBe("unreachable");
  });

  it("#13.3 NodePorts: from the VCN and pods only, never from the internet (whatever the security list says)", () => {
    const nodePort = endpoints({ environment: "oci", domain: "example.org", nodeAddress: NODE }).ports.registry;
    expect(connect(nodePort, OUTSIDE)).toBe("dropped");
    expect(connect(nodePort, POD)).toBe("refused");
    expect(connect(nodePort)).toBe("refused");
    // The gateway stays public.
    expect(connect(443, OUTSIDE)).toBe("refused");
  });

  it("#13.4 pods cannot read the instance metadata (user_data holds the host key); its DNS on 53 stays reachable", () => {
    expect(connect(80, POD, IMDS)).toBe("dropped");
    expect(connect(53, POD, IMDS)).toBe("refused");
    expect(connect(80, NEIGHBOUR, IMDS)).toBe("refused");
  });

  it("a second run adds nothing", () => {
    const before = [rules("INPUT"), rules("FORWARD"), mangle()];
    const r = runCloudInit();
    expect(r.code, r.out).toBe(0);
    expect([rules("INPUT"), rules("FORWARD"), mangle()]).toEqual(before);
  });

  it("#13.3 the stack's firewall command (its exact stdin, as root) on a node cloud-init already set up: exit 0, nothing added", async () => {
    const before = [rules("INPUT"), rules("FORWARD"), mangle()];
    const stdin = await unwrap(ociFirewallScript({ vcnCidr: VCN }));
    const r = sh(inNode("env", `RULES_V4=${box}/rules.v4`, "bash", "-s"), stdin);
    expect(r.out).toContain("oci-firewall: K3s ports accepted, NodePorts from the VCN only, saved");
    expect(r.code, r.out).toBe(0);
    expect([rules("INPUT"), rules("FORWARD"), mangle()]).toEqual(before);
    expect(connect(endpoints({ environment: "oci", domain: "example.org", nodeAddress: NODE }).ports.registry, OUTSIDE)).toBe("dropped");
  });

  it("#13.3 after a reboot: rules.v4, saved on a node where K3s runs, restores (without K3s's chains) and the NodePorts stay closed to the world", async () => {
    const nodePort = endpoints({ environment: "oci", domain: "example.org", nodeAddress: NODE }).ports.registry;
    // K3s's own chains, as kube-proxy and kube-router leave them (their ipsets are gone at boot).
    must(inNode("iptables", "-t", "nat", "-N", "KUBE-SERVICES"));
    must(inNode("iptables", "-t", "nat", "-I", "PREROUTING", "1", "-j", "KUBE-SERVICES"));
    must(inNode("iptables", "-N", "KUBE-ROUTER-INPUT"));
    must(inNode("iptables", "-I", "INPUT", "1", "-j", "KUBE-ROUTER-INPUT"));
    const r = sh(inNode("env", `RULES_V4=${box}/rules.v4`, "bash", "-s"), await unwrap(ociFirewallScript({ vcnCidr: VCN })));
    expect(r.code, r.out).toBe(0);
    const saved = fs.readFileSync(path.join(box, "rules.v4"), "utf8");
    expect(saved).not.toMatch(/KUBE-/);
    expect(saved).toContain("-A PLATFORM-NODEPORTS -j DROP");
    // The reboot: empty tables, then what netfilter-persistent.service runs (15-ip4tables load_rules).
    for (const table of ["filter", "nat", "mangle"]) {
      must(inNode("iptables", "-t", table, "-F"));
      must(inNode("iptables", "-t", table, "-X"));
    }
    expect(connect(nodePort, OUTSIDE)).toBe("refused");
    must(inNode("sh", "-c", `iptables-restore < "${box}/rules.v4"`));
    expect(connect(nodePort, OUTSIDE)).toBe("dropped");
    expect(connect(nodePort)).toBe("refused");
    expect(connect(6443)).toBe("refused");
    expect(connect(5432)).toBe("unreachable");
    expect(connect(80, POD, IMDS)).toBe("dropped");
  });
});
