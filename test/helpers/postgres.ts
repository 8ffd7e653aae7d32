// A real PostgreSQL (Debian's postgresql: initdb + pg_ctl) in a temporary directory, on 127.0.0.1,
// set up like the postgres image the cluster runs: the POSTGRES_USER role owns POSTGRES_DB, its
// password stored as a SCRAM-SHA-256 verifier, and host connections authenticated by SCRAM only.
// initdb refuses to run as root: as root everything runs as `nobody` (runuser).
import { spawnSync, SpawnSyncOptions } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Requirement } from "./binaries";
import { freePort } from "./processes";

export interface Postgres {
  readonly port: number;
  /** The role's stored password starts with SCRAM-SHA-256$ (not md5, not plaintext). */
  readonly scramVerifier: boolean;
  stop(): void;
}

function run(what: string, argv: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 30_000, ...opts });
  if (r.error || r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return String(r.stdout);
}

/** Requirement must need initdb, pg_ctl and postgres. */
export async function startPostgres(req: Requirement, db: { user: string; password: string; database: string }): Promise<Postgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-"));
  let asUser: string[] = [];
  if (process.getuid?.() === 0) {
    const nobody = { uid: Number(run("id -u nobody", ["id", "-u", "nobody"])), gid: Number(run("id -g nobody", ["id", "-g", "nobody"])) };
    fs.chownSync(dir, nobody.uid, nobody.gid);
    asUser = ["runuser", "-u", "nobody", "--"];
  }
  const data = path.join(dir, "data");
  const as = (argv: string[]) => [...asUser, ...argv];
  let started = false;
  const stop = () => {
    try {
      if (started) {
        const argv = as([req.bin("pg_ctl"), "-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
        spawnSync(argv[0], argv.slice(1), { timeout: 40_000 });
        started = false;
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const pwfile = path.join(dir, "pwfile");
    fs.writeFileSync(pwfile, `${db.password}\n`, { mode: 0o600 });
    if (asUser.length) fs.chownSync(pwfile, fs.statSync(dir).uid, fs.statSync(dir).gid);
    run("initdb", as([req.bin("initdb"), "-D", data, "-U", db.user, `--pwfile=${pwfile}`, "-A", "scram-sha-256", "-E", "UTF8", "-N", "--no-instructions"]));
    fs.rmSync(pwfile);
    // The image's entrypoint: `host all all all scram-sha-256` (here: loopback only); nothing else.
    fs.writeFileSync(path.join(data, "pg_hba.conf"), "host all all 127.0.0.1/32 scram-sha-256\n");
    // Single-user mode (no network, no auth): check the stored verifier, create the database.
    const single = run("postgres --single", as([req.bin("postgres"), "--single", "-D", data, "-c", "listen_addresses=", "postgres"]), {
      input: `SELECT rolpassword ~ '^SCRAM-SHA-256\\$' AS scram FROM pg_authid WHERE rolname = '${db.user}';\nCREATE DATABASE "${db.database}" OWNER "${db.user}";\n`,
    });
    const port = await freePort();
    const settings = ["listen_addresses=127.0.0.1", `port=${port}`, "unix_socket_directories=", "password_encryption=scram-sha-256", "fsync=off"];
    run("pg_ctl start", as([req.bin("pg_ctl"), "-D", data, "-w", "-t", "30", "-l", path.join(dir, "server.log"), "-o", settings.map((s) => `-c ${s}`).join(" "), "start"]));
    started = true;
    return { port, scramVerifier: /scram = "t"/.test(single), stop };
  } catch (e) {
    const log = path.join(dir, "server.log");
    const tail = fs.existsSync(log) ? `\nserver.log:\n${fs.readFileSync(log, "utf8")}` : "";
    stop();
    throw new Error(`${(e as Error).message}${tail}`);
  }
}
