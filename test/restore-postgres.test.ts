// The database's backup and restore scripts (pg-dump.sh, restore-postgres.sh) against a real
// PostgreSQL (Debian package postgresql; required when CI=true): dump, lose the data, restore, and
// the same rows come back, sequences included; a broken archive leaves the database as it was. The
// app's role owns its database and is not a superuser, as in the postgres image.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { needs } from "./helpers/binaries";
import { Postgres, startPostgres } from "./helpers/postgres";
import { ROOT } from "./helpers/stack";

const pgTools = needs("initdb", "pg_ctl", "postgres", "psql", "pg_dump", "pg_restore", "pg_isready");
const SCRIPTS = path.join(ROOT, "components/backup/scripts");
const ROWS = 20_000;
const ADMIN = { user: "pgadmin", password: "admin-pw-4b2d", database: "bootstrap" };
const APP = { user: "sample", password: "sample-pw-9c1e", database: "sample" };

pgTools.describe("pg-dump.sh and restore-postgres.sh against a real PostgreSQL", () => {
    let pg: Postgres;
    let dir: string;
    const libpq = (who: { user: string; password: string }, database: string) => ({
      PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: who.user, PGPASSWORD: who.password, PGDATABASE: database, PGCONNECT_TIMEOUT: "10",
    });
    const clients = () => `${path.dirname(pgTools.bin("pg_dump"))}:${process.env.PATH}`;
    const run = (script: string, extra: Record<string, string> = {}) => spawnSync("sh", [path.join(SCRIPTS, script)], {
      encoding: "utf8", timeout: 120_000,
      env: { PATH: clients(), LANG: "C", TMPDIR: os.tmpdir(), ...libpq(APP, APP.database), PG_WAIT_TRIES: "5", ...extra },
    });
    const psql = (who: { user: string; password: string }, database: string, query: string) => {
      const r = spawnSync(pgTools.bin("psql"), ["-X", "-v", "ON_ERROR_STOP=1", "-Atc", query], { encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, LANG: "C", ...libpq(who, database) } });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    /** psql as the app's own role, as the app (or an operator's mistake) would change its data. */
    const appSql = (query: string) => psql(APP, APP.database, query);
    const fingerprint = () => appSql("select count(*) || ' ' || md5(coalesce(string_agg(id || ':' || name || ':' || qty, ',' order by id), '')) from items");

    beforeAll(async () => {
      pg = await startPostgres(pgTools, ADMIN);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-backup-"));
      // As the sample app's database: a role that owns its database (the image's POSTGRES_USER), no superuser.
      psql(ADMIN, ADMIN.database, `create role ${APP.user} login password '${APP.password}'`);
      psql(ADMIN, ADMIN.database, `create database ${APP.database} owner ${APP.user}`);
      appSql(`create table items (id serial primary key, name text not null, qty integer not null, created timestamptz default now());
        create index items_name on items (name);
        create view big_items as select * from items where qty > 900;
        insert into items (name, qty) select 'item-' || g, (g * 37) % 1000 from generate_series(1, ${ROWS}) g;`);
    }, 120_000);

    afterAll(() => {
      pg?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("dump, lose the data, restore: the same rows, the view and the sequence come back", () => {
      const before = fingerprint();
      expect(before).toMatch(new RegExp(`^${ROWS} [0-9a-f]{32}$`));
      const started = performance.now();
      const dumped = run("pg-dump.sh", { BACKUP_DIR: dir });
      const dumpMs = performance.now() - started;
      expect(dumped.status, dumped.stderr).toBe(0);
      const file = path.join(dir, "sample.dump");
      const size = fs.statSync(file).size;
      expect(dumped.stdout).toContain(`pg-dump: sample: ${size} bytes, 1 tables with data`);

      // The loss: a table dropped (and the view with it), the sequence moved on.
      appSql("drop table items cascade");
      appSql("create table items (id integer)");
      expect(appSql("select count(*) from items")).toBe("0");

      const t0 = performance.now();
      const restored = run("restore-postgres.sh", { RESTORE_DIR: dir });
      const restoreMs = performance.now() - t0;
      expect(restored.status, restored.stderr).toBe(0);
      expect(fingerprint()).toBe(before);
      expect(appSql("select count(*) from big_items")).toBe(String([...Array(ROWS).keys()].filter((g) => ((g + 1) * 37) % 1000 > 900).length));
      // The sequence continues after the restored rows instead of colliding with them.
      expect(appSql("insert into items (name, qty) values ('new', 1) returning id").split("\n")[0]).toBe(String(ROWS + 1));
      appSql("delete from items where name = 'new'");
      console.log(`pg-dump: ${ROWS} rows -> ${(size / 1024).toFixed(0)} KiB custom-format archive (uncompressed) in ${dumpMs.toFixed(0)} ms; restore in ${restoreMs.toFixed(0)} ms`);
    }, 120_000);

    it("a broken archive fails the restore and leaves the database as it was", () => {
      const before = fingerprint();
      const broken = path.join(dir, "broken");
      fs.mkdirSync(broken);
      const full = fs.readFileSync(path.join(dir, "sample.dump"));
      fs.writeFileSync(path.join(broken, "sample.dump"), full.subarray(0, Math.floor(full.length / 2)));
      const r = run("restore-postgres.sh", { RESTORE_DIR: broken });
      expect(r.status).not.toBe(0);
      expect(fingerprint()).toBe(before);
      const missing = run("restore-postgres.sh", { RESTORE_DIR: path.join(dir, "nothing-here") });
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toContain("is missing or empty");
    }, 120_000);

    it("a database that does not answer fails the dump instead of uploading nothing", () => {
      const r = run("pg-dump.sh", { BACKUP_DIR: dir, PGPORT: "1", PG_WAIT_TRIES: "1" });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain("not ready");
    });
});
