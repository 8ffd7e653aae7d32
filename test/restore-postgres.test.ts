// The database's backup and restore scripts (pg-dump.sh, restore-postgres.sh) against a real
// PostgreSQL (Debian package postgresql; required when CI=true): dump, lose the data, restore, and
// the same rows come back, sequences included; a broken archive leaves the database as it was.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPostgresBin, Postgres, startPostgres } from "./helpers/postgres";
import { ROOT } from "./helpers/stack";

const bin = findPostgresBin();
const CI = process.env.CI === "true";
const SCRIPTS = path.join(ROOT, "components/backup/scripts");
const ROWS = 20_000;

describe("pg-dump.sh and restore-postgres.sh against a real PostgreSQL", () => {
  it("PostgreSQL is installed (Debian package postgresql; required when CI=true)", ({ skip }) => {
    if (!bin) {
      if (CI) throw new Error("initdb/pg_ctl/pg_dump are missing: .ci/run installs the Debian package postgresql");
      console.warn("SKIP restore-postgres: PostgreSQL not installed (apt-get install postgresql)");
      skip("PostgreSQL not installed");
    }
    expect(bin).toBeDefined();
  });

  describe.skipIf(!bin)("with PostgreSQL", () => {
    let pg: Postgres;
    let dir: string;
    const run = (script: string, extra: Record<string, string> = {}) => spawnSync("sh", [path.join(SCRIPTS, script)], {
      encoding: "utf8", timeout: 120_000,
      env: { PATH: `${bin}:${process.env.PATH}`, LANG: "C", ...pg.env("sample", "sample-pw-9c1e", "sample"), PG_WAIT_TRIES: "5", ...extra },
    });
    /** What the app's data is: row count and a digest of every row, and the sequence's next value. */
    /** psql as the app's own role, as the app (or an operator's mistake) would change its data. */
    const appSql = (query: string) => {
      const r = spawnSync(path.join(bin!, "psql"), ["-X", "-v", "ON_ERROR_STOP=1", "-Atc", query], { encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, ...pg.env("sample", "sample-pw-9c1e", "sample") } });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const fingerprint = () => pg.sql("select count(*) || ' ' || md5(coalesce(string_agg(id || ':' || name || ':' || qty, ',' order by id), '')) from items", "sample");

    beforeAll(async () => {
      pg = await startPostgres(bin!);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-backup-"));
      fs.chmodSync(dir, 0o777);
      // As the sample app's database: a role that owns its database (the image's POSTGRES_USER).
      pg.sql("create role sample login password 'sample-pw-9c1e'");
      pg.sql("create database sample owner sample");
      const app = spawnSync(path.join(bin!, "psql"), ["-X", "-v", "ON_ERROR_STOP=1", "-q", "-c", `
        create table items (id serial primary key, name text not null, qty integer not null, created timestamptz default now());
        create index items_name on items (name);
        create view big_items as select * from items where qty > 900;
        insert into items (name, qty) select 'item-' || g, (g * 37) % 1000 from generate_series(1, ${ROWS}) g;`], {
        encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, ...pg.env("sample", "sample-pw-9c1e", "sample") },
      });
      expect(app.status, app.stderr).toBe(0);
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
      expect(pg.sql("select count(*) from big_items", "sample")).toBe(String([...Array(ROWS).keys()].filter((g) => ((g + 1) * 37) % 1000 > 900).length));
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
});
