// scripts/authorized-keys.sh for real: first against a temp authorized_keys with bash, then through
// a real OpenSSH server (Debian openssh-server) on 127.0.0.1, fed exactly as the program feeds it
// (RUN_STDIN and the stdin authorizedKeysScript builds), proving who can log in after each step.
import { afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { authorizedKeysScript } from "../components/host/ssh-keys";
import { RUN_STDIN } from "../components/lib/scripts";
import { needs } from "./helpers/binaries";
import { unwrap } from "./helpers/mocks";
import { ROOT } from "./helpers/stack";

const SCRIPT = path.join(ROOT, "components/host/scripts/authorized-keys.sh");
const STACK = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIstack pulumi@stack";
const A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIuserA a@laptop";
const B = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCuserB== b@laptop";
const HAND = 'from="192.0.2.0/24" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhand colleague';

const homes: string[] = [];
afterEach(() => { for (const d of homes.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });
function tempHome(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "authorized-keys-"));
  homes.push(dir);
  return dir;
}

function home(lines: string[]) {
  const dir = tempHome();
  fs.mkdirSync(path.join(dir, ".ssh"), { mode: 0o700 });
  fs.writeFileSync(path.join(dir, ".ssh/authorized_keys"), lines.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  return dir;
}
function run(dir: string, keep: string[]) {
  const r = spawnSync("bash", [SCRIPT], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: dir, KEEP_KEYS: keep.join("\n") } });
  return { status: r.status, stderr: r.stderr, keys: fs.readFileSync(path.join(dir, ".ssh/authorized_keys"), "utf8").trim().split("\n") };
}

describe("authorized-keys.sh against a temp authorized_keys", () => {
  it("a rotation swaps the user's key, keeps the stack's and anyone else's; a second run changes nothing", () => {
    const dir = home([STACK, A, HAND]); // as cloud-init writes the launch keys, plus a hand-added one
    expect(run(dir, [STACK, A])).toMatchObject({ status: 0, keys: [STACK, A, HAND] });
    const rotated = run(dir, [STACK, B]);
    expect(rotated).toMatchObject({ status: 0, keys: [STACK, HAND, B] });
    expect(rotated.stderr).toContain("2 managed, 1 added, 1 removed");
    expect(run(dir, [STACK, B])).toMatchObject({ status: 0, keys: [STACK, HAND, B] });
    expect(run(dir, [STACK])).toMatchObject({ status: 0, keys: [STACK, HAND] });
    expect((fs.statSync(path.join(dir, ".ssh/authorized_keys")).mode & 0o777).toString(8)).toBe("600");
    expect(fs.readdirSync(path.join(dir, ".ssh")).sort()).toEqual(["authorized_keys", "authorized_keys.platform"]);
  });

  it("keys match by type and blob: another comment or options do not make another key", () => {
    const dir = home(['no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIuserA renamed', STACK]);
    expect(run(dir, [STACK, A]).keys).toEqual(['no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIuserA renamed', STACK]);
    expect(run(dir, [STACK]).keys).toEqual([STACK]);
  });

  it("a node without the file yet gets it; no usable key in KEEP_KEYS changes nothing and fails", () => {
    const dir = tempHome();
    expect(run(dir, [STACK, A])).toMatchObject({ status: 0, keys: [STACK, A] });
    expect((fs.statSync(path.join(dir, ".ssh")).mode & 0o777).toString(8)).toBe("700");
    const bad = run(dir, ["not a key"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("KEEP_KEYS holds no OpenSSH public key");
    expect(bad.keys).toEqual([STACK, A]);
  });
});

const openssh = needs("sshd", "ssh", "ssh-keygen");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

openssh.describe("authorized-keys.sh through a real sshd (OpenSSH, 127.0.0.1)", () => {
  it("the stack's key logs in through every change; a rotated-out key is refused, the new one accepted", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "authorized-keys-sshd-"));
    const key = (name: string) => {
      spawnSync(openssh.bin("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", `${name}@test`, "-f", path.join(dir, name)]);
      return fs.readFileSync(path.join(dir, `${name}.pub`), "utf8").trim();
    };
    const [stack, a, b, hand] = ["stack", "a", "b", "hand"].map(key);
    spawnSync(openssh.bin("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "hostkey")]);
    const file = path.join(dir, "home/.ssh/authorized_keys");
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, `${stack}\n${a}\nfrom="127.0.0.1" ${hand}\n`, { mode: 0o600 }); // launch keys + a hand-added one
    const port = await freePort();
    fs.writeFileSync(path.join(dir, "sshd_config"), [
      `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${dir}/hostkey`, `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${file}`, `SetEnv AUTHORIZED_KEYS=${file}`,
      // StrictModes would refuse the world-writable tmp dir above the file; the script's modes are checked above.
      "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
      "PermitRootLogin prohibit-password", "",
    ].join("\n"));
    fs.mkdirSync("/run/sshd", { recursive: true });
    const server = spawn(openssh.bin("sshd"), ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    server.stderr.on("data", (d) => { log += d; });
    const user = os.userInfo().username;
    const ssh = (identity: string, command: string, input = "") => spawnSync(openssh.bin("ssh"), [
      "-q", "-i", path.join(dir, identity), "-p", String(port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", `${user}@127.0.0.1`, command,
    ], { input, encoding: "utf8", timeout: 15_000 });
    const canLogIn = (identity: string) => ssh(identity, "true").status === 0;
    // What the program runs: RUN_STDIN over the connection, the stdin authorizedKeysScript builds.
    const keys = async (identity: string, userKey?: string) => {
      const r = ssh(identity, RUN_STDIN, await unwrap(authorizedKeysScript(stack, userKey)));
      expect(r.status, `${r.stderr}\n${log}`).toBe(0);
    };
    try {
      for (let i = 0; i < 50 && !canLogIn("stack"); i++) await new Promise((r) => setTimeout(r, 100));
      expect(["stack", "a", "b", "hand"].map(canLogIn), log).toEqual([true, true, false, true]);
      await keys("stack", a); // first up: adopts A as managed
      await keys("stack", b); // platform:sshPublicKey rotated to B
      expect(["stack", "a", "b", "hand"].map(canLogIn), log).toEqual([true, false, true, true]);
      await keys("stack"); // platform:sshPublicKey removed
      expect(["stack", "a", "b", "hand"].map(canLogIn), log).toEqual([true, false, false, true]);
      // A node an older program launched with A alone: the stack's key is authorized over A, once.
      fs.writeFileSync(file, `${a}\n`, { mode: 0o600 });
      fs.rmSync(`${file}.platform`);
      expect(canLogIn("stack")).toBe(false);
      await keys("a", a);
      expect(["stack", "a"].map(canLogIn), log).toEqual([true, true]);
    } finally {
      server.kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
