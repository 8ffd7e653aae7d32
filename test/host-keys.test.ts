// #13.4 SSH host keys are pinned. The format (what pulumi-command's ssh.ParseAuthorizedKey takes,
// what ssh-keyscan prints), homelab's platform:sshHostKey, and for real: an OpenSSH server (Debian
// openssh-server) on 127.0.0.1 with the key exactly as cloud-init's ssh_keys writes it, and the
// migration script (scripts/host-key.sh) swapping a running sshd's keys.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config";
import { cloudInit } from "../components/host/cloud-init";
import { hostKeyLine, launchHostKey, parseHostKey } from "../components/host/host-keys";
import { needs } from "./helpers/binaries";
import { changesBetween } from "./helpers/changes";
import { Registration } from "./helpers/engine";
import { MOCK_HOST_KEY, plain } from "./helpers/mocks";
import { ROOT, runStack, stackFileConfig, TEST_SECRETS } from "./helpers/stack";
import { configSource } from "./helpers/config-source";
import { ociHostCommands } from "./helpers/oci-host";

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHti2OleQg5G0MHLhX1RVjYSi3xH/ocsHLq0NbtQ6yaa";
const ED_BLOB = ED.split(" ")[1];
// A real ecdsa-sha2-nistp256 blob's header under the ed25519 name: decodes, names another type.
const ECDSA_BLOB = Buffer.concat([Buffer.from([0, 0, 0, 19]), Buffer.from("ecdsa-sha2-nistp256"), Buffer.alloc(8)]).toString("base64");

describe("#13.4 host key lines", () => {
  it.each([
    ["authorized_keys style", ED, ED],
    ["with a comment", `${ED} root@host`, ED],
    ["ssh-keyscan output (host first)", `192.0.2.10 ${ED}`, ED],
    ["ssh-keyscan output, another port", `[192.0.2.10]:2222 ${ED}`, ED],
    ["surrounding whitespace", `  ${ED}\n`, ED],
  ])("accepted: %s", (_name, value, key) => {
    expect(parseHostKey(value)).toEqual({ key });
  });

  it.each([
    ["empty", "", /is empty/],
    ["two lines (two keys)", `${ED}\n${ED}`, /must be one line/],
    ["unknown type", `ssh-dss ${ED_BLOB}`, /must start with a host key type/],
    ["a fingerprint instead of the key", "256 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU root@host (ED25519)", /must start with a host key type/],
    ["no key after the type", "ssh-ed25519", /has no base64 key/],
    ["not base64", "ssh-ed25519 not*base64", /has no base64 key/],
    ["truncated", `ssh-ed25519 ${ED_BLOB.slice(0, 20)}`, /not a ssh-ed25519 key/],
    ["another type's blob", `ssh-ed25519 ${ECDSA_BLOB}`, /not a ssh-ed25519 key/],
    ["a private key", "-----BEGIN OPENSSH PRIVATE KEY-----", /must start with a host key type/],
  ])("refused: %s", (_name, value, message) => {
    const r = parseHostKey(value);
    expect("error" in r && r.error).toMatch(message);
  });
});

describe("#13.4 platform:sshHostKey (homelab)", () => {
  const src = (config: Record<string, string>) => configSource(config, { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n" });
  const HOMELAB = { domain: "homelab.example.com", hostAddress: "192.0.2.10", sshPort: "2222", acmeEmail: "admin@example.org" };

  it("missing: says it is required and exactly how to get and check it", () => {
    expect(() => parseConfig(src(HOMELAB), "homelab")).toThrow(
      /^platform:sshHostKey: is required when environment is homelab: .*`ssh-keyscan -t ed25519 -p 2222 192\.0\.2\.10`.*ssh-keygen -lf/,
    );
  });

  it("wrong: names the key, what is wrong and the same help", () => {
    expect(() => parseConfig(src({ ...HOMELAB, sshHostKey: `${ED}\n${ED}` }), "homelab")).toThrow(/^platform:sshHostKey: must be one line .*ssh-keyscan -t ed25519 -p 2222/);
    expect(() => parseConfig(src({ ...HOMELAB, sshHostKey: "AAAAC3Nza" }), "homelab")).toThrow(/^platform:sshHostKey: must start with a host key type/);
  });

  it("ssh-keyscan's line is taken as it is and pinned as type and key", () => {
    expect(parseConfig(src({ ...HOMELAB, sshHostKey: `[192.0.2.10]:2222 ${ED}` }), "homelab").homelab!.sshHostKey).toBe(ED);
  });

  it("the committed homelab stack file carries a valid example key", () => {
    expect(parseHostKey(stackFileConfig("homelab")["platform:sshHostKey"])).toEqual({ key: expect.stringMatching(/^ssh-ed25519 /) });
  });
});

describe("#13.4 every SSH connection pins a host key", () => {
  it("oci: every remote command pins the node's stack-owned key; cloud-init installs it; its private half only in secrets", async () => {
    const run = await runStack("oci");
    const commands = run.created.filter((c) => c.type === "command:remote:Command");
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const c of commands) expect(plain(c.inputs.connection).hostKey, c.name).toBe(MOCK_HOST_KEY.pub);
    expect(run.outputs.sshHostKeys).toEqual([expect.stringMatching(new RegExp(`^\\d+\\.\\d+\\.\\d+\\.\\d+ ${MOCK_HOST_KEY.pub}$`))]);
    const instance = run.created.find((c) => c.type === "oci:Core/instance:Instance")!;
    const userData = plain(instance.inputs.metadata).user_data;
    expect(launchHostKey(userData)).toBe(MOCK_HOST_KEY.pub);
    const doc = YAML.parse(Buffer.from(userData, "base64").toString("utf8"));
    expect(doc).toMatchObject({ ssh_deletekeys: true, ssh_genkeytypes: [], ssh_keys: { ed25519_private: MOCK_HOST_KEY.priv } });
    const marker = MOCK_HOST_KEY.priv.split("\n")[1];
    const { outsideSecrets } = await import("./helpers/mocks");
    expect(run.created.flatMap((c) => outsideSecrets(c.inputs, marker).map((p) => `${c.name}${p}`))).toEqual([]);
  });

  it("homelab: every remote command pins platform:sshHostKey", async () => {
    const run = await runStack("homelab");
    const commands = run.created.filter((c) => c.type === "command:remote:Command");
    expect(commands.length).toBeGreaterThanOrEqual(3);
    const configured = stackFileConfig("homelab")["platform:sshHostKey"];
    for (const c of commands) expect(plain(c.inputs.connection).hostKey, c.name).toBe(configured);
    expect(run.outputs.sshHostKeys).toEqual([`192.0.2.10 ${configured}`]);
    const onPort = await runStack("homelab", { config: { "platform:sshPort": "2222" } });
    expect(onPort.outputs.sshHostKeys).toEqual([`[192.0.2.10]:2222 ${configured}`]);
    expect(TEST_SECRETS.homelab["platform:sshHostKey"]).toBeUndefined(); // public: plain config
  });
});

/** OciHost alone, its instance reporting the user_data an older program launched it with (no host key). */
async function nodeLaunchedBefore(oldUserData = Buffer.from(cloudInit({ vcnCidr: "10.0.0.0/16" }), "utf8").toString("base64")): Promise<Registration[]> {
  return (await ociHostCommands({ user_data: oldUserData })).registrations;
}

describe("#13.4 day two: nodes launched before host keys, and a second up", () => {
  it("an older node gets the stack's key over its last unpinned connection, once; every later command is pinned and waits for it", async () => {
    const commands = await nodeLaunchedBefore();
    const install = commands.find((c) => c.name === "oci-server-0-host-key")!;
    expect(plain(install.inputs.connection).hostKey).toBeUndefined();
    expect(plain(install.inputs.stdin)).toContain(Buffer.from(MOCK_HOST_KEY.priv).toString("base64"));
    expect(install.ignoreChanges).toEqual(["connection", "stdin"]);
    expect(install.inputs.update).toBeUndefined();
    const rest = commands.filter((c) => c !== install);
    expect(rest.map((c) => c.name).sort()).toEqual(["oci-server-0-cloud-init", "oci-server-0-firewall", "oci-server-0-ssh-keys"]);
    const after = (c: Registration, seen = new Set<string>()): boolean => c.dependencies.some((d) => {
      if (d === install.urn) return true;
      const dep = commands.find((x) => x.urn === d);
      return dep !== undefined && !seen.has(d) && (seen.add(d), after(dep, seen));
    });
    for (const c of rest) {
      expect(plain(c.inputs.connection).hostKey, c.name).toBe(MOCK_HOST_KEY.pub);
      expect(after(c), `${c.name} runs after the host key is installed`).toBe(true);
    }
  });

  it("a rotated host key (pulumi up --replace of the key and the host-key command) is installed over the launch key, pinned", async () => {
    const launchKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHti2OleQg5G0MHLhX1RVjYSi3xH/ocsHLq0NbtQ6yaa";
    const launched = Buffer.from(cloudInit({ vcnCidr: "10.0.0.0/16", hostKey: { privateKeyOpenssh: "old", publicKeyOpenssh: launchKey } })).toString("base64");
    const commands = await nodeLaunchedBefore(launched);
    const install = commands.find((c) => c.name === "oci-server-0-host-key")!;
    expect(plain(install.inputs.connection).hostKey).toBe(launchKey);
    for (const c of commands.filter((x) => x !== install)) expect(plain(c.inputs.connection).hostKey, c.name).toBe(MOCK_HOST_KEY.pub);
  });

  it("a second up re-runs no command; the host key and the instance stay", async () => {
    const before = await runStack("oci");
    const set = changesBetween(before, await runStack("oci"));
    expect(set.names("replace")).toEqual([]);
    expect(set.names("update").filter((n) => n.startsWith("command:"))).toEqual([]);
  });
});

const openssh = needs("sshd", "ssh", "ssh-keygen", "ssh-keyscan");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

openssh.describe("#13.4 host keys through a real sshd (OpenSSH, 127.0.0.1)", () => {
  /** Starts sshd with the given host key files; returns keyscan and ssh helpers. */
  async function sshd(dir: string, hostKeys: string[]) {
    const port = await freePort();
    const config = path.join(dir, "sshd_config");
    fs.writeFileSync(config, [
      `Port ${port}`, "ListenAddress 127.0.0.1", ...hostKeys.map((k) => `HostKey ${k}`), `PidFile ${dir}/sshd.pid`,
      "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "",
    ].join("\n"));
    fs.mkdirSync("/run/sshd", { recursive: true });
    const server = spawn(openssh.bin("sshd"), ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    server.stderr.on("data", (d) => { log += d; });
    const keyscan = (type = "ed25519") => spawnSync(openssh.bin("ssh-keyscan"), ["-t", type, "-p", String(port), "-T", "5", "127.0.0.1"], { encoding: "utf8", timeout: 15_000 }).stdout.trim();
    for (let i = 0; i < 50 && keyscan() === ""; i++) await new Promise((r) => setTimeout(r, 100));
    /** What an OpenSSH client pinned to `line` (known_hosts, ed25519 only, strict) says when it dials. */
    const dial = (line: string) => {
      fs.writeFileSync(path.join(dir, "known_hosts"), `[127.0.0.1]:${port} ${line}\n`);
      const r = spawnSync(openssh.bin("ssh"), [
        "-p", String(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${dir}/known_hosts`,
        "-o", "HostKeyAlgorithms=ssh-ed25519", "-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=5", "nobody@127.0.0.1", "true",
      ], { encoding: "utf8", timeout: 15_000 });
      return /Host key verification failed|HOST IDENTIFICATION HAS CHANGED/.test(r.stderr) ? "mismatch" : /Permission denied/.test(r.stderr) ? "key accepted" : `other: ${r.stderr}`;
    };
    return { server, config, keyscan, dial, log: () => log };
  }
  const keygen = (file: string, type = "ed25519") => {
    const r = spawnSync(openssh.bin("ssh-keygen"), ["-q", "-t", type, "-N", "", "-C", "", "-f", file], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return { priv: fs.readFileSync(file, "utf8"), pub: fs.readFileSync(`${file}.pub`, "utf8") };
  };

  it("the key cloud-init's ssh_keys writes is the one sshd presents, in the format hostKey pins", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-keys-"));
    let server: ReturnType<typeof spawn> | undefined;
    try {
      const generated = keygen(path.join(dir, "generated"));
      // cloud-init's user_data as the OCI instance gets it, and cc_ssh's write of ssh_keys.
      const userData = Buffer.from(cloudInit({ vcnCidr: "10.0.0.0/16", hostKey: { privateKeyOpenssh: generated.priv, publicKeyOpenssh: generated.pub } })).toString("base64");
      const doc = YAML.parse(Buffer.from(userData, "base64").toString("utf8"));
      const keyFile = path.join(dir, "ssh_host_ed25519_key");
      fs.writeFileSync(keyFile, doc.ssh_keys.ed25519_private, { mode: 0o600 });
      fs.writeFileSync(`${keyFile}.pub`, doc.ssh_keys.ed25519_public, { mode: 0o600 });
      const pinned = launchHostKey(userData)!;
      expect(pinned).toBe(hostKeyLine(generated.pub));
      const s = await sshd(dir, [keyFile]);
      server = s.server;
      const scanned = s.keyscan();
      expect(scanned, s.log()).toMatch(/^\[127\.0\.0\.1\]:\d+ ssh-ed25519 AAAA\S+$/);
      expect(parseHostKey(scanned)).toEqual({ key: pinned });
      // A client pinned to that line (what pulumi-command's FixedHostKey does) gets through; one pinned to another key does not.
      expect(s.dial(pinned), s.log()).toBe("key accepted");
      expect(s.dial(hostKeyLine(keygen(path.join(dir, "other")).pub))).toBe("mismatch");
    } finally {
      server?.kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("host-key.sh on a node launched before: the image's keys go, sshd offers the stack's key after a reload; a second run changes nothing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-key-sh-"));
    let server: ReturnType<typeof spawn> | undefined;
    try {
      const etc = path.join(dir, "etc-ssh");
      fs.mkdirSync(etc);
      const oldEd = keygen(path.join(etc, "ssh_host_ed25519_key"));
      keygen(path.join(etc, "ssh_host_ecdsa_key"), "ecdsa");
      const stack = keygen(path.join(dir, "stack"));
      const s = await sshd(dir, [path.join(etc, "ssh_host_ed25519_key"), path.join(etc, "ssh_host_ecdsa_key")]);
      server = s.server;
      expect(parseHostKey(s.keyscan())).toEqual({ key: hostKeyLine(oldEd.pub) });
      const run = (priv: string, pub: string) => spawnSync("bash", [path.join(ROOT, "components/host/scripts/host-key.sh")], {
        encoding: "utf8", timeout: 20_000,
        env: { PATH: `/usr/sbin:/sbin:${process.env.PATH}`, SSH_DIR: etc, SSHD_CONFIG: s.config, HOST_KEY_PRIVATE: priv, HOST_KEY_PUBLIC: hostKeyLine(pub) },
      });
      // A private key that is not the public key's other half is refused before anything moves.
      const wrong = run(oldEd.priv, stack.pub);
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toContain("does not match");
      const first = run(stack.priv, stack.pub);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toContain("host-key: installed");
      expect(fs.readdirSync(etc).sort()).toEqual(["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
      expect((fs.statSync(path.join(etc, "ssh_host_ed25519_key")).mode & 0o777).toString(8)).toBe("600");
      // The node's own reload (systemctl) is skipped outside /etc/ssh: SIGHUP is what it sends.
      server.kill("SIGHUP");
      let scanned = "";
      for (let i = 0; i < 50; i++) {
        scanned = s.keyscan();
        if (parseHostKey(scanned).hasOwnProperty("key") && (parseHostKey(scanned) as { key: string }).key === hostKeyLine(stack.pub)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(parseHostKey(scanned), s.log()).toEqual({ key: hostKeyLine(stack.pub) });
      expect(s.keyscan("ecdsa")).toBe("");
      const again = run(stack.priv, stack.pub);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stdout).toContain("already installed");
    } finally {
      server?.kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
