// A real, throwaway PostgreSQL on 127.0.0.1 for the restore tests: initdb + pg_ctl in a temp dir,
// password (SCRAM) auth over TCP as the backup pods use it, stopped and removed by stop(). initdb
// refuses to run as root, so as root (CI containers) the server runs as `nobody` via setpriv.
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** The directory holding initdb, pg_ctl, pg_dump, psql, pg_restore and pg_isready, or undefined. */
export function findPostgresBin(): string | undefined {
  const have = (dir: string) => ["initdb", "pg_ctl", "pg_dump", "pg_restore", "psql", "pg_isready"].every((b) => fs.existsSync(path.join(dir, b)));
  const candidates = [
    ...(process.env.PATH ?? "").split(":"),
    ...(fs.existsSync("/usr/lib/postgresql") ? fs.readdirSync("/usr/lib/postgresql").sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin`) : []),
  ];
  const found = candidates.find((d) => d && have(d));
  // A PATH entry may hold symlinks to only some of them (initdb, pg_ctl): take the real directory.
  return found ? path.dirname(fs.realpathSync(path.join(found, "initdb"))) : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Postgres {
  readonly bin: string;
  readonly port: number;
  /** libpq environment for a client: host, port, user, database, password. */
  env(user: string, password: string, database: string): Record<string, string>;
  /** psql -Atc as the superuser; throws on error. */
  sql(query: string, database?: string): string;
  stop(): void;
}

const UNPRIVILEGED = 65534;

export async function startPostgres(bin: string): Promise<Postgres> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "pg-"));
  const asRoot = process.getuid?.() === 0;
  const superuser = asRoot ? "nobody" : os.userInfo().username;
  const superPassword = "super-7f3a9c";
  const port = await freePort();
  fs.chmodSync(root, 0o755);
  const data = path.join(root, "data");
  const pwfile = path.join(root, "pw");
  fs.writeFileSync(pwfile, `${superPassword}\n`);
  if (asRoot) fs.chownSync(root, UNPRIVILEGED, UNPRIVILEGED), fs.chownSync(pwfile, UNPRIVILEGED, UNPRIVILEGED);
  const server = (cmd: string, args: string[], timeout = 60_000): SpawnSyncReturns<string> => {
    const [file, argv] = asRoot
      ? ["setpriv", [`--reuid=${UNPRIVILEGED}`, `--regid=${UNPRIVILEGED}`, "--clear-groups", "--", path.join(bin, cmd), ...args]]
      : [path.join(bin, cmd), args];
    return spawnSync(file, argv, { encoding: "utf8", timeout, cwd: root, env: { PATH: process.env.PATH, LANG: "C", LC_ALL: "C" } });
  };
  const must = (r: SpawnSyncReturns<string>, what: string) => {
    if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr || r.stdout}${r.error ? ` ${r.error.message}` : ""}`);
    return r;
  };
  must(server("initdb", ["-D", data, "-U", superuser, `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]), "initdb");
  must(server("pg_ctl", ["-D", data, "-l", path.join(root, "log"), "-w", "-t", "30", "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${root} -c fsync=off`, "start"]), "pg_ctl start");
  const env = (user: string, password: string, database: string) => ({ PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: database, PGCONNECT_TIMEOUT: "10" });
  const sql = (query: string, database = "postgres") => must(spawnSync(path.join(bin, "psql"), ["-X", "-v", "ON_ERROR_STOP=1", "-Atc", query], {
    encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, ...env(superuser, superPassword, database) },
  }), `psql ${query.slice(0, 60)}`).stdout.trim();
  return {
    bin, port, env, sql,
    stop() {
      server("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "20", "stop"], 30_000);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
