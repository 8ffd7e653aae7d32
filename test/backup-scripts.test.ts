// The scripts the backup and restore pods run (components/backup/scripts), run for real with `sh`
// against stubs of restic, gitea, systemctl and k3s, on fake volumes in a temp dir; sqlite-backup.py
// against a real SQLite database in WAL mode with a writer running.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { needs } from "./helpers/binaries";
import { RESTIC_STUB, Sandbox, sandbox } from "./helpers/sandbox";
import { ROOT } from "./helpers/stack";

const SCRIPTS = path.join(ROOT, "components/backup/scripts");
// The fake archives, databases and sqlite-backup.py itself need Python (its sqlite3 module).
const py = needs("python3");
const script = (name: string) => path.join(SCRIPTS, name);
const RESTIC_ENV = { RESTIC_REPOSITORY: "s3:https://example.invalid/bucket/gitea", RESTIC_PASSWORD: "pw", BACKUP_HOST: "homelab", BACKUP_TAG: "gitea" };

let boxes: Sandbox[] = [];
const box = (prefix: string) => {
  const b = sandbox(prefix);
  boxes.push(b);
  b.stub("restic", RESTIC_STUB);
  return b;
};
afterEach(() => {
  for (const b of boxes) b.cleanup();
  boxes = [];
});

/** Python writes a tar of `tree` (path -> content; a trailing / is a directory) to `file`. */
function writeTar(file: string, tree: Record<string, string>): void {
  const r = spawnSync("python3", ["-c", `
import io, json, sys, tarfile
tree = json.loads(sys.argv[2])
with tarfile.open(sys.argv[1], "w") as t:
    for name, content in tree.items():
        info = tarfile.TarInfo(name.rstrip("/"))
        if name.endswith("/"):
            info.type = tarfile.DIRTYPE; info.mode = 0o755; t.addfile(info)
        else:
            data = content.encode(); info.size = len(data); info.mode = 0o644; t.addfile(info, io.BytesIO(data))
`, file, JSON.stringify(tree)], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

function sqliteFile(file: string, rows: string[]): void {
  const r = spawnSync("python3", ["-c", `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("create table repo(name text)")
c.executemany("insert into repo values (?)", [(n,) for n in sys.argv[2:]]); c.commit(); c.close()
`, file, ...rows], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

const sqliteRows = (file: string) => spawnSync("python3", ["-c", "import sqlite3,sys; print(','.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute('select name from repo order by name')))", file], { encoding: "utf8" }).stdout.trim();

/** What gitea dump writes (go-gitea/gitea cmd/dump.go): app.ini, data/ (APP_DATA_PATH minus repos, logs and the DB), repos/<owner>/<repo>.git/. */
const GITEA_DUMP_TREE = {
  "app.ini": "[security]\nSECRET_KEY = backup-secret\n",
  "data/": "",
  "data/gitea/": "", "data/gitea/conf/": "", "data/gitea/conf/app.ini": "[security]\nSECRET_KEY = backup-secret\n",
  "data/avatars/": "", "data/avatars/1": "png",
  "data/attachments/": "", "data/attachments/a/b/abcd": "attachment",
  "data/lfs/": "", "data/lfs/ab/cd/oid": "lfs object",
  "repos/": "", "repos/platform/": "", "repos/platform/platform-apps.git/": "",
  "repos/platform/platform-apps.git/HEAD": "ref: refs/heads/main\n",
  "repos/platform/platform-apps.git/config": "[core]\n\tbare = true\n",
};

describe("backup.sh (restic driver, last container of every backup pod)", () => {
  it("creates the repository when restic says it does not exist (exit 10), then backs up, applies retention and lists", () => {
    const b = box("backup");
    const src = path.join(b.root, "backup");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "gitea-dump.tar"), "tar");
    fs.writeFileSync(path.join(src, "gitea.db"), "db");
    const r = b.run("sh", [script("backup.sh"), path.join(src, "gitea-dump.tar"), path.join(src, "gitea.db")],
      { ...RESTIC_ENV, CAT_RC: "10", SNAPSHOT_ROOT: path.join(b.root, "repo"), KEEP_DAILY: "3", KEEP_WEEKLY: "2", KEEP_MONTHLY: "1" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls.map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual(["restic cat", "restic init", "restic backup", "restic forget", "restic snapshots"]);
    expect(r.calls[2]).toBe(`restic backup --host homelab --tag gitea ${src}/gitea-dump.tar ${src}/gitea.db`);
    expect(r.calls[3]).toBe("restic forget --host homelab --tag gitea --keep-daily 3 --keep-weekly 2 --keep-monthly 1 --prune");
    expect(fs.readFileSync(path.join(b.root, "repo", src, "gitea.db"), "utf8")).toBe("db");
  });

  it("an existing repository is not initialised again; OCI's path-style option reaches every restic call", () => {
    const b = box("backup");
    const file = path.join(b.root, "state.db");
    fs.writeFileSync(file, "x");
    const r = b.run("sh", [script("backup.sh"), file], { ...RESTIC_ENV, CAT_RC: "0", SNAPSHOT_ROOT: path.join(b.root, "repo"), S3_BUCKET_LOOKUP: "path" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls.some((c) => c.includes(" init"))).toBe(false);
    for (const c of r.calls) expect(c.startsWith("restic -o s3.bucket-lookup=path "), c).toBe(true);
  });

  it("any other failure to open the repository (credentials, network) stops the job without creating a second one", () => {
    const b = box("backup");
    const file = path.join(b.root, "f");
    fs.writeFileSync(file, "x");
    const r = b.run("sh", [script("backup.sh"), file], { ...RESTIC_ENV, CAT_RC: "1", SNAPSHOT_ROOT: path.join(b.root, "repo") });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("cannot open the repository s3:https://example.invalid/bucket/gitea (restic exit 1)");
    expect(r.calls).toEqual(["restic cat config"]);
  });

  it("a path the previous step did not produce fails before anything is uploaded", () => {
    const b = box("backup");
    const r = b.run("sh", [script("backup.sh"), path.join(b.root, "missing.dump")], { ...RESTIC_ENV, SNAPSHOT_ROOT: path.join(b.root, "repo") });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("missing.dump does not exist");
    expect(r.calls).toEqual([]);
  });

  it("an incomplete snapshot (restic exit 3: unreadable files) fails the job; so does a missing variable", () => {
    const b = box("backup");
    const file = path.join(b.root, "f");
    fs.writeFileSync(file, "x");
    const r = b.run("sh", [script("backup.sh"), file], { ...RESTIC_ENV, SNAPSHOT_ROOT: path.join(b.root, "repo"), FAIL_BACKUP: "3" });
    expect(r.status).toBe(3);
    expect(r.calls.some((c) => c.startsWith("restic forget"))).toBe(false);
    const missing = b.run("sh", [script("backup.sh"), file], { RESTIC_REPOSITORY: "x", BACKUP_TAG: "gitea" });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain("required environment missing: RESTIC_PASSWORD BACKUP_HOST");
  });
});

py.describe("gitea-dump.sh (pinned Gitea image, Gitea's volume read-only)", () => {
  // Copies the prepared archive where --file points, as gitea dump would write it.
  const giteaStub = () => String.raw`
file=""; while [ $# -gt 0 ]; do case "$1" in --file) file="$2"; shift 2;; *) shift;; esac; done
cp "$TREE_TAR" "$file"`;

  it("runs gitea dump as a tar without the live database, and checks the archive's layout", () => {
    const b = box("dump");
    const tar = path.join(b.root, "tree.tar");
    writeTar(tar, GITEA_DUMP_TREE);
    b.stub("gitea", giteaStub());
    const out = path.join(b.root, "backup");
    fs.mkdirSync(out);
    const r = b.run("sh", [script("gitea-dump.sh")], { BACKUP_DIR: out, TREE_TAR: tar });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls[0]).toBe(`gitea dump --type tar --file ${out}/gitea-dump.tar --tempdir ${out}/tmp --skip-db --skip-log --skip-index`);
    expect(r.stdout).toMatch(/gitea-dump: \d+ bytes, 1 repositories/);
    expect(fs.existsSync(path.join(out, "tmp"))).toBe(false);
  });

  it("an archive that is not gitea dump's layout, or that carries the live database, fails the backup", () => {
    for (const [what, tree, message] of [
      ["no app.ini", { "data/": "", "repos/": "" }, "no app.ini"],
      ["no data/", { "app.ini": "x", "repos/": "" }, "no data/"],
      ["the live database", { ...GITEA_DUMP_TREE, "data/gitea.db": "SQLite format 3" }, "--skip-db was not honoured"],
    ] as const) {
      const b = box("dump");
      const tar = path.join(b.root, "tree.tar");
      writeTar(tar, tree as Record<string, string>);
      b.stub("gitea", giteaStub());
      const out = path.join(b.root, "backup");
      fs.mkdirSync(out);
      const r = b.run("sh", [script("gitea-dump.sh")], { BACKUP_DIR: out, TREE_TAR: tar });
      expect(r.status, what).not.toBe(0);
      expect(r.stderr, what).toContain(message);
    }
  });
});

py.describe("restore-gitea.sh (restic image, Gitea's volume read-write, Gitea stopped)", () => {
  /** A fresh install's volume, as pulumi up on a new host leaves it. */
  function freshVolume(b: Sandbox): string {
    const data = path.join(b.root, "data");
    fs.mkdirSync(path.join(data, "gitea/conf"), { recursive: true });
    fs.writeFileSync(path.join(data, "gitea/conf/app.ini"), "[security]\nSECRET_KEY = fresh-secret\n");
    fs.mkdirSync(path.join(data, "git/gitea-repositories/platform/platform-apps.git"), { recursive: true });
    fs.writeFileSync(path.join(data, "git/gitea-repositories/platform/platform-apps.git/HEAD"), "fresh");
    fs.mkdirSync(path.join(data, "queues"));
    sqliteFile(path.join(data, "gitea.db"), ["fresh"]);
    return data;
  }

  function snapshot(b: Sandbox, tree: Record<string, string>): string {
    const snap = path.join(b.root, "repo");
    fs.mkdirSync(path.join(snap, "backup"), { recursive: true });
    writeTar(path.join(snap, "backup/gitea-dump.tar"), tree);
    sqliteFile(path.join(snap, "backup/gitea.db"), ["platform-apps", "team-repo"]);
    return snap;
  }

  it("puts a gitea dump archive back in the chart's layout: data/ on the volume, repos/ under git/gitea-repositories, the database copy as gitea.db", () => {
    const b = box("restore-gitea");
    const data = freshVolume(b);
    const work = path.join(b.root, "work");
    fs.mkdirSync(work);
    const r = b.run("sh", [script("restore-gitea.sh")], { ...RESTIC_ENV, SNAPSHOT_ROOT: snapshot(b, GITEA_DUMP_TREE), GITEA_DATA: data, WORK_DIR: work, SNAPSHOT: "4f2a9c1e" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toEqual([
      "restic dump --host homelab --tag gitea 4f2a9c1e /backup/gitea-dump.tar",
      "restic dump --host homelab --tag gitea 4f2a9c1e /backup/gitea.db",
    ]);
    // The backup's SECRET_KEY, not the fresh install's: it decrypts the secrets in the database.
    expect(fs.readFileSync(path.join(data, "gitea/conf/app.ini"), "utf8")).toContain("backup-secret");
    expect(fs.readFileSync(path.join(data, "git/gitea-repositories/platform/platform-apps.git/HEAD"), "utf8")).toBe("ref: refs/heads/main\n");
    expect(fs.readFileSync(path.join(data, "lfs/ab/cd/oid"), "utf8")).toBe("lfs object");
    expect(fs.readFileSync(path.join(data, "attachments/a/b/abcd"), "utf8")).toBe("attachment");
    expect(sqliteRows(path.join(data, "gitea.db"))).toBe("platform-apps,team-repo");
    expect(fs.existsSync(path.join(data, "queues")), "what the fresh install made is gone").toBe(false);
    expect((fs.statSync(path.join(data, "gitea.db")).mode & 0o777).toString(8)).toBe("600");
    expect(r.stdout).toContain("restore-gitea: restored snapshot 4f2a9c1e: 1 repositories");
  });

  it("an archive without gitea dump's layout is refused before the volume is touched", () => {
    for (const tree of [{ "repos/": "" }, { "app.ini": "x" }, { ...GITEA_DUMP_TREE, "data/gitea.db": "SQLite format 3" }]) {
      const b = box("restore-gitea");
      const data = freshVolume(b);
      const work = path.join(b.root, "work");
      fs.mkdirSync(work);
      const r = b.run("sh", [script("restore-gitea.sh")], { ...RESTIC_ENV, SNAPSHOT_ROOT: snapshot(b, tree as Record<string, string>), GITEA_DATA: data, WORK_DIR: work });
      expect(r.status).not.toBe(0);
      expect(sqliteRows(path.join(data, "gitea.db"))).toBe("fresh");
      expect(fs.readFileSync(path.join(data, "gitea/conf/app.ini"), "utf8")).toContain("fresh-secret");
    }
  });

  it("a download that is not an SQLite database is refused", () => {
    const b = box("restore-gitea");
    const data = freshVolume(b);
    const snap = snapshot(b, GITEA_DUMP_TREE);
    fs.writeFileSync(path.join(snap, "backup/gitea.db"), "");
    const work = path.join(b.root, "work");
    fs.mkdirSync(work);
    const r = b.run("sh", [script("restore-gitea.sh")], { ...RESTIC_ENV, SNAPSHOT_ROOT: snap, GITEA_DATA: data, WORK_DIR: work });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("not an SQLite database");
  });
});

describe("restore-registry.sh (restic image, the registry's volume, registry stopped)", () => {
  function setup(b: Sandbox) {
    const snap = path.join(b.root, "repo");
    const blobs = path.join(snap, "var/lib/registry/docker/registry/v2");
    fs.mkdirSync(path.join(blobs, "repositories/platform/sample-api/_manifests/tags/1.0.0"), { recursive: true });
    fs.mkdirSync(path.join(blobs, "blobs/sha256/ab/abcd"), { recursive: true });
    fs.writeFileSync(path.join(blobs, "blobs/sha256/ab/abcd/data"), "layer");
    const root = path.join(b.root, "root");
    const target = path.join(root, "var/lib/registry");
    fs.mkdirSync(path.join(target, "docker/registry/v2/repositories/stale"), { recursive: true });
    const work = path.join(b.root, "work");
    fs.mkdirSync(work);
    return { snap, root, target, work };
  }

  it("replaces the storage with the snapshot's, streamed through restic dump", () => {
    const b = box("restore-registry");
    const { snap, root, target, work } = setup(b);
    const r = b.run("sh", [script("restore-registry.sh")], { ...RESTIC_ENV, BACKUP_TAG: "registry", SNAPSHOT_ROOT: snap, RESTORE_ROOT: root, WORK_DIR: work });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toEqual(["restic dump --host homelab --tag registry latest /var/lib/registry"]);
    expect(fs.readFileSync(path.join(target, "docker/registry/v2/blobs/sha256/ab/abcd/data"), "utf8")).toBe("layer");
    expect(fs.existsSync(path.join(target, "docker/registry/v2/repositories/stale"))).toBe(false);
    expect(r.stdout).toContain("restore-registry: restored snapshot latest: 1 repositories");
  });

  it("a failing restic dump fails the restore, also after it streamed data (its status is not lost in a pipe)", () => {
    for (const failure of [{ FAIL_DUMP: "1" }, { DUMP_THEN_FAIL: "1" }] as Record<string, string>[]) {
      const b = box("restore-registry");
      const { snap, root, work } = setup(b);
      const r = b.run("sh", [script("restore-registry.sh")], { ...RESTIC_ENV, BACKUP_TAG: "registry", SNAPSHOT_ROOT: snap, RESTORE_ROOT: root, WORK_DIR: work, ...failure });
      expect(r.status, JSON.stringify(failure)).not.toBe(0);
      expect(r.stdout).not.toContain("restored snapshot");
    }
  });
});

py.describe("the K3s datastore: k3s-datastore.sh, restore-k3s.sh, k3s-swap-datastore.sh", () => {
  function server(b: Sandbox, token = "K10token::server:abc") {
    const dir = path.join(b.root, "server");
    fs.mkdirSync(path.join(dir, "db"), { recursive: true });
    sqliteFile(path.join(dir, "db/state.db"), ["live"]);
    fs.writeFileSync(path.join(dir, "token"), token);
    return dir;
  }

  it("backs up a consistent copy of state.db and the token, both mode 600", () => {
    const b = box("k3s");
    const dir = server(b);
    const out = path.join(b.root, "backup");
    fs.mkdirSync(out);
    const r = b.run("sh", [script("k3s-datastore.sh")], { K3S_SERVER_DIR: dir, BACKUP_DIR: out });
    expect(r.status, r.stderr).toBe(0);
    expect(sqliteRows(path.join(out, "state.db"))).toBe("live");
    expect(fs.readFileSync(path.join(out, "token"), "utf8")).toBe("K10token::server:abc");
    for (const f of ["state.db", "token"]) expect((fs.statSync(path.join(out, f)).mode & 0o777).toString(8)).toBe("600");
  });

  it("stages a snapshot next to the live datastore, then swaps it in with K3s stopped and waits for the API", () => {
    const b = box("k3s");
    const dir = server(b);
    const snap = path.join(b.root, "repo");
    fs.mkdirSync(path.join(snap, "backup"), { recursive: true });
    sqliteFile(path.join(snap, "backup/state.db"), ["from-backup"]);
    fs.writeFileSync(path.join(snap, "backup/token"), "K10token::server:abc");
    const staged = b.run("sh", [script("restore-k3s.sh")], { ...RESTIC_ENV, BACKUP_TAG: "k3s", SNAPSHOT_ROOT: snap, STAGING_DIR: path.join(dir, "db-restore") });
    expect(staged.status, staged.stderr).toBe(0);
    b.stub("systemctl", "");
    b.stub("id", "echo 0");
    b.stub("k3s", "exit 0");
    const swap = b.run("bash", [script("k3s-swap-datastore.sh")], { K3S_SERVER_DIR: dir, READY_SLEEP: "0" });
    expect(swap.status, swap.stderr).toBe(0);
    expect(swap.calls).toEqual(["id -u", "systemctl stop k3s", "systemctl start k3s", "k3s kubectl get --raw /readyz"]);
    expect(sqliteRows(path.join(dir, "db/state.db"))).toBe("from-backup");
    const kept = fs.readdirSync(dir).filter((f) => f.startsWith("db.before-restore-"));
    expect(kept).toHaveLength(1);
    expect(sqliteRows(path.join(dir, kept[0], "state.db"))).toBe("live");
    expect(fs.existsSync(path.join(dir, "db-restore"))).toBe(false);
  });

  it("a datastore under another token, or an etcd server, is refused before K3s is stopped", () => {
    for (const [what, prepare, message] of [
      ["token", (dir: string) => fs.writeFileSync(path.join(dir, "db-restore/token"), "K10other"), "token differs"],
      ["etcd", (dir: string) => fs.mkdirSync(path.join(dir, "db/etcd")), "embedded etcd"],
    ] as const) {
      const b = box("k3s");
      const dir = server(b);
      fs.mkdirSync(path.join(dir, "db-restore"));
      sqliteFile(path.join(dir, "db-restore/state.db"), ["from-backup"]);
      fs.writeFileSync(path.join(dir, "db-restore/token"), "K10token::server:abc");
      prepare(dir);
      b.stub("systemctl", "");
      b.stub("id", "echo 0");
      const r = b.run("bash", [script("k3s-swap-datastore.sh")], { K3S_SERVER_DIR: dir });
      expect(r.status, what).not.toBe(0);
      expect(r.stderr, what).toContain(message);
      expect(r.calls.filter((c) => c.startsWith("systemctl")), what).toEqual([]);
      expect(sqliteRows(path.join(dir, "db/state.db")), what).toBe("live");
    }
  });
});

py.describe("sqlite-backup.py: a consistent copy of a live WAL database (kine's mode)", () => {
  /** A writer committing pairs of rows (one per table) in single transactions, never checkpointing. */
  function startWriter(db: string) {
    return spawn("python3", ["-c", `
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("pragma journal_mode=wal"); c.execute("pragma wal_autocheckpoint=0")
c.execute("create table if not exists a(i)"); c.execute("create table if not exists b(i)")
i = 0
print("ready", flush=True)
while True:
    c.execute("begin"); c.execute("insert into a values (?)", (i,)); c.execute("insert into b values (?)", (i,)); c.execute("commit")
    i += 1
    if i % 200 == 0: time.sleep(0.001)
`, db], { stdio: ["ignore", "pipe", "inherit"] });
  }

  const counts = (db: string) => spawnSync("python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from a').fetchone()[0], c.execute('select count(*) from b').fetchone()[0])", db], { encoding: "utf8" }).stdout.trim().split(" ").map(Number);

  it("copies every committed transaction (the WAL included) and never half of one, while the writer runs", async () => {
    const b = box("sqlite");
    const db = path.join(b.root, "state.db");
    const writer = startWriter(db);
    try {
      await new Promise<void>((resolve) => writer.stdout!.once("data", () => resolve()));
      await new Promise((r) => setTimeout(r, 400));
      const copies: number[][] = [];
      for (let i = 0; i < 3; i++) {
        const dest = path.join(b.root, `copy-${i}.db`);
        const r = spawnSync("python3", [script("sqlite-backup.py"), db, dest], { encoding: "utf8", timeout: 30_000 });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain("integrity ok");
        copies.push(counts(dest));
      }
      for (const [a, bb] of copies) {
        expect(a).toBeGreaterThan(0);
        expect(a, "a copy holds both rows of every transaction or neither").toBe(bb);
      }
      // The defect the API avoids: copying the file alone misses what only the WAL holds.
      fs.copyFileSync(db, path.join(b.root, "plain.db"));
      const plain = counts(path.join(b.root, "plain.db"));
      expect(plain[0] ?? 0, "a plain copy of state.db without its -wal is behind").toBeLessThan(copies[0][0]);
      console.log(`sqlite-backup: copies of a live WAL database held ${copies.map((c) => c[0]).join(", ")} transactions; a plain file copy ${plain[0] ?? 0}`);
    } finally {
      writer.kill();
    }
  });

  it("Gitea's rollback-journal database copies from a read-only volume; a WAL database does not (why the K3s job mounts db/ read-write)", () => {
    const b = box("sqlite");
    // Read-only for an unprivileged reader (root would ignore the modes), as a readOnly mount is.
    // The system's python3: a per-user install (pyenv under /root) is not readable by nobody.
    const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const asUser = (args: string[]) => process.getuid?.() === 0
      ? spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", python, ...args.slice(1)], { encoding: "utf8" })
      : spawnSync(args[0], args.slice(1), { encoding: "utf8" });
    const make = (dir: string, wal: boolean) => {
      fs.mkdirSync(dir);
      const r = spawnSync("python3", ["-c", `import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); ${wal ? "c.execute('pragma journal_mode=wal'); " : ""}c.execute('create table repo(name)'); c.execute("insert into repo values ('x')"); c.commit(); c.close()`, path.join(dir, "x.db")], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      fs.chmodSync(path.join(dir, "x.db"), 0o444);
      fs.chmodSync(dir, 0o555);
    };
    const out = path.join(b.root, "out");
    fs.mkdirSync(out, { mode: 0o777 });
    fs.chmodSync(out, 0o777);
    fs.chmodSync(b.root, 0o755);
    make(path.join(b.root, "rollback"), false);
    make(path.join(b.root, "wal"), true);
    const rollback = asUser(["python3", script("sqlite-backup.py"), path.join(b.root, "rollback/x.db"), path.join(out, "gitea.db")]);
    expect(rollback.status, rollback.stderr).toBe(0);
    const wal = asUser(["python3", script("sqlite-backup.py"), path.join(b.root, "wal/x.db"), path.join(out, "state.db")]);
    expect(wal.status).not.toBe(0);
    expect(wal.stderr).toContain("readonly database");
    for (const d of ["rollback", "wal"]) fs.chmodSync(path.join(b.root, d), 0o755);
  });

  it("a missing database fails, naming it", () => {
    const b = box("sqlite");
    const r = spawnSync("python3", [script("sqlite-backup.py"), path.join(b.root, "nope.db"), path.join(b.root, "out.db")], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("nope.db does not exist");
  });
});
