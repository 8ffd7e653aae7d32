// Issue 10 item 3, the database: PostgreSQL keeps the password of its first start in its data
// directory, so a rotated Secret alone changes nothing in the database. The real pieces, against a
// real PostgreSQL on 127.0.0.1 (Debian's, the image is 17): the password-sync script the database
// pod runs (components/apps/scripts/db-password-sync.sh), the Secret mounted as the kubelet mounts
// it (an atomically swapped ..data link), and the sample app's own connection check reading
// DATABASE_PASSWORD_FILE (components/apps/template). Needs PostgreSQL's server binaries and python3:
// skipped here without them, a failure in CI.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { database, PASSWORD_SYNC } from "../components/apps/database";
import { sizeOf } from "../components/lib/sizes";
import { needs } from "./helpers/binaries";

const ROOT = path.resolve(__dirname, "..");
const SCRIPT = path.join(ROOT, "components", PASSWORD_SYNC.script);
const TEMPLATE = path.join(ROOT, "components/apps/template");

const pg = needs("initdb", "postgres", "psql", "python3");
// The real directory (initdb may be a symlink, e.g. in /usr/local/bin): pg_isready is beside it.
const BIN = pg.reason ? undefined : path.dirname(fs.realpathSync(pg.bin("initdb")));

// initdb and postgres refuse root: as root, run them (and the script, as in the pod) as `postgres`.
const AS_ROOT = process.getuid?.() === 0;
const pgUser = AS_ROOT ? { uid: Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout), gid: Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout) } : undefined;
const asPg = (cmd: string[]): string[] => (AS_ROOT ? ["setpriv", `--reuid=${pgUser!.uid}`, `--regid=${pgUser!.gid}`, "--clear-groups", ...cmd] : cmd);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/** A Secret volume the way the kubelet writes it: <dir>/secret -> ..data/secret, ..data -> a timestamped dir. */
class MountedSecret {
  private n = 0;
  constructor(readonly dir: string) { fs.mkdirSync(dir, { recursive: true }); }
  get file(): string { return path.join(this.dir, PASSWORD_SYNC.file); }
  write(value: string): void {
    const ts = `..2026_01_01_00_00_0${this.n++}`;
    fs.mkdirSync(path.join(this.dir, ts));
    fs.writeFileSync(path.join(this.dir, ts, PASSWORD_SYNC.file), value, { mode: 0o444 });
    // The AtomicWriter's swap: a new link renamed over ..data.
    fs.symlinkSync(ts, path.join(this.dir, "..data_tmp"));
    fs.renameSync(path.join(this.dir, "..data_tmp"), path.join(this.dir, "..data"));
    if (!fs.existsSync(this.file)) fs.symlinkSync(path.join("..data", PASSWORD_SYNC.file), this.file);
  }
}

pg.describe("a rotated database password reaches a database initialised with an older one (real PostgreSQL)", () => {
  let root: string;
  let server: ChildProcess | undefined;
  let serverLog = "";
  let port: number;
  let secret: MountedSecret;
  const FIRST = "first-database-password";

  const env = (extra: Record<string, string> = {}) => ({
    PATH: `${BIN}:${process.env.PATH}`, HOME: root, LANG: "C.UTF-8",
    DB_ROLE: "sample", DB_PASSWORD_FILE: secret.file, PGHOST: path.join(root, "run"), PGPORT: String(port),
    SYNC_STATE_DIR: path.join(root, "state"), ...extra,
  });
  const syncOnce = () => spawnSync(asPg(["bash", SCRIPT])[0], asPg(["bash", SCRIPT]).slice(1), { env: env({ SYNC_ONCE: "1" }), encoding: "utf8", timeout: 20_000 });
  /** The sample app's readiness check as the pod runs it: password from DATABASE_PASSWORD_FILE, read now. */
  const appCheck = () => spawnSync("python3", ["-B", "-c", [
    "import os, sys",
    "from sample_api import pgcheck",
    "from sample_api.server import database_from_env, database_password",
    "db = database_from_env(os.environ)",
    "try:\n    pgcheck.check(db['host'], db['port'], db['user'], database_password(db), db['database'])\nexcept pgcheck.CheckError as e:\n    print(e); sys.exit(1)",
  ].join("\n")], {
    cwd: TEMPLATE, encoding: "utf8", timeout: 20_000,
    env: { PATH: process.env.PATH!, DATABASE_HOST: "127.0.0.1", DATABASE_PORT: String(port), DATABASE_USER: "sample", DATABASE_NAME: "sample", DATABASE_PASSWORD: "stale-env-value", DATABASE_PASSWORD_FILE: secret.file },
  });
  /** A TCP login with this password (scram-sha-256, as every remote client authenticates). */
  const login = (password: string) => spawnSync(path.join(BIN!, "psql"), ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "sample", "-d", "sample", "-c", "SELECT 1"], {
    encoding: "utf8", timeout: 20_000, env: { PATH: process.env.PATH!, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" },
  });

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "db-rotation-"));
    for (const d of ["run", "state", "data"]) fs.mkdirSync(path.join(root, d));
    secret = new MountedSecret(path.join(root, "secret"));
    secret.write(FIRST);
    fs.writeFileSync(path.join(root, "pwfile"), `${FIRST}\n`);
    if (AS_ROOT) for (const p of [root, ...["run", "state", "data", "pwfile"].map((d) => path.join(root, d))]) fs.chownSync(p, pgUser!.uid, pgUser!.gid);
    fs.chmodSync(root, 0o755);
    port = await freePort();
    // What the image's entrypoint does on an empty data directory: initdb with POSTGRES_PASSWORD,
    // local connections trusted, every TCP client by scram-sha-256.
    const init = spawnSync(asPg([path.join(BIN!, "initdb")])[0], [...asPg([path.join(BIN!, "initdb")]).slice(1),
      "-D", path.join(root, "data"), "-U", "sample", `--pwfile=${path.join(root, "pwfile")}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
    ], { encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH!, LANG: "C.UTF-8" } });
    expect(init.status, init.stderr).toBe(0);
    // log_statement=all: a statement that carried a password would be in this log.
    const cmd = asPg([path.join(BIN!, "postgres"), "-D", path.join(root, "data"), "-k", path.join(root, "run"), "-p", String(port),
      "-c", "listen_addresses=127.0.0.1", "-c", "log_statement=all", "-c", "log_min_error_statement=error"]);
    server = spawn(cmd[0], cmd.slice(1), { env: { PATH: process.env.PATH!, LANG: "C.UTF-8" } });
    server.stderr!.on("data", (d) => (serverLog += d));
    server.stdout!.on("data", (d) => (serverLog += d));
    const deadline = Date.now() + 20_000;
    while (spawnSync(path.join(BIN!, "pg_isready"), ["-q", "-h", path.join(root, "run"), "-p", String(port)]).status !== 0) {
      if (Date.now() > deadline) throw new Error(`postgres did not start:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const created = spawnSync(path.join(BIN!, "psql"), ["-X", "-h", path.join(root, "run"), "-p", String(port), "-U", "sample", "-d", "postgres", "-c", "CREATE DATABASE sample"], { encoding: "utf8" });
    expect(created.status, created.stderr).toBe(0);
  }, 90_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGINT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    if (root) fs.rmSync(root, { recursive: true, force: true });
  }, 20_000);

  it("the rotated Secret is applied over the local socket; the app's next connection uses it; the old password stops working", async () => {
    expect(appCheck().status).toBe(0);
    const SECOND = "second database password, with 'quotes', \"double\", \\back\\slashes; and ünïcode";
    secret.write(SECOND);
    // The Secret alone: the database still has the first password, and the app now sends the new one.
    const stale = appCheck();
    expect(stale.status).toBe(1);
    expect(stale.stdout).toMatch(/28P01|password authentication failed/);
    const r = syncOnce();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("applied the mounted password to role sample");
    expect(appCheck().status).toBe(0);
    expect(login(SECOND).status).toBe(0);
    expect(login(FIRST).status).not.toBe(0);
    // Never in the script's output, nor in the server's log (which logs every statement). The
    // calls above block the event loop: let the server's log lines arrive first.
    const flushed = Date.now() + 5_000;
    while (!/ALTER ROLE|SET log_statement/.test(serverLog) && Date.now() < flushed) await new Promise((res) => setTimeout(res, 50));
    await new Promise((res) => setTimeout(res, 200));
    for (const text of [r.stdout + r.stderr, serverLog]) {
      expect(text).not.toContain(FIRST);
      expect(text).not.toContain("second database password");
    }
    // The session's first statement is logged (log_statement was still all); the ALTER ROLE is not.
    expect(serverLog).toMatch(/statement: SET log_statement/);
    expect(serverLog).not.toMatch(/ALTER ROLE/);
  }, 60_000);

  it("the running loop follows a later rotation by itself; its probes (as rendered) report it alive and ready, and can fail", async () => {
    const loop = spawn(asPg(["bash", SCRIPT])[0], asPg(["bash", SCRIPT]).slice(1), { env: env({ SYNC_INTERVAL: "0.2" }) });
    let out = "";
    loop.stderr!.on("data", (d) => (out += d));
    try {
      const THIRD = "third-database-password";
      secret.write(THIRD);
      const deadline = Date.now() + 15_000;
      while (appCheck().status !== 0) {
        if (Date.now() > deadline) throw new Error(`the loop did not apply the new password:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(login(THIRD).status).toBe(0);
      // The probes of the rendered StatefulSet, pointed at this state directory.
      const db = database({
        name: "sample-db", namespace: "sample-app", database: "sample", user: "sample", passwordSecret: { name: "sample-db-password", key: "password" },
        clientLabels: { app: "client" }, resources: sizeOf("standard", "samplePostgres"), syncResources: sizeOf("standard", "samplePasswordSync"),
      });
      const sync = db.statefulSet.spec.template.spec.containers.find((c: any) => c.name === PASSWORD_SYNC.container);
      const probe = (which: "readinessProbe" | "livenessProbe") => {
        const [cmd, ...args] = (sync[which].exec.command as string[]).map((a) => a.split(PASSWORD_SYNC.stateDir).join(path.join(root, "state")));
        return spawnSync(cmd, args, { encoding: "utf8" }).status;
      };
      expect(probe("readinessProbe")).toBe(0);
      expect(probe("livenessProbe")).toBe(0);
      expect(out).not.toContain(THIRD);
    } finally {
      loop.kill("SIGKILL");
    }
    // A stopped loop: its heartbeat ages and liveness fails; no ok file, readiness fails.
    const db = database({
      name: "sample-db", namespace: "sample-app", database: "sample", user: "sample", passwordSecret: { name: "sample-db-password", key: "password" },
      clientLabels: { app: "client" }, resources: sizeOf("standard", "samplePostgres"), syncResources: sizeOf("standard", "samplePasswordSync"),
    });
    const sync = db.statefulSet.spec.template.spec.containers.find((c: any) => c.name === PASSWORD_SYNC.container);
    const run = (which: "readinessProbe" | "livenessProbe") => {
      const [cmd, ...args] = (sync[which].exec.command as string[]).map((a) => a.split(PASSWORD_SYNC.stateDir).join(path.join(root, "state")));
      return spawnSync(cmd, args, { encoding: "utf8" }).status;
    };
    const old = new Date(Date.now() - 10 * 60_000);
    fs.utimesSync(path.join(root, "state", "alive"), old, old);
    expect(run("livenessProbe")).not.toBe(0);
    fs.rmSync(path.join(root, "state", "ok"), { force: true });
    expect(run("readinessProbe")).not.toBe(0);
  }, 60_000);

  it("while the database cannot be reached the pass fails and says so (no ok file)", () => {
    const r = spawnSync(asPg(["bash", SCRIPT])[0], asPg(["bash", SCRIPT]).slice(1), { env: env({ SYNC_ONCE: "1", PGHOST: path.join(root, "nowhere") }), encoding: "utf8", timeout: 20_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("could not apply the password to role sample yet");
    expect(fs.existsSync(path.join(root, "state", "ok"))).toBe(false);
  }, 30_000);
});
