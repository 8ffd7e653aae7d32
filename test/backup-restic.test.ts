// backup.sh and the restore scripts with the real restic (Debian package restic; required when
// CI=true) on a local repository: two daily backups, retention, then the registry's storage and a
// database file restored byte for byte. Debian ships an older restic than the pinned image
// (versions.ts); the flags used here exist in both.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { needs } from "./helpers/binaries";
import { ROOT } from "./helpers/stack";

const SCRIPTS = path.join(ROOT, "components/backup/scripts");
const restic = needs("restic");

/** Every file under `dir`, relative path -> sha256. */
function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = crypto.createHash("sha256").update(fs.readFileSync(path.join(dir, p))).digest("hex");
    }
  };
  walk("");
  return out;
}

describe("backup and restore with the real restic", () => {
  restic.describe("with restic", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "restic-"));
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
    const env = (tag: string, extra: Record<string, string> = {}) => ({
      PATH: process.env.PATH!, HOME: root, TMPDIR: root, RESTIC_CACHE_DIR: path.join(root, "cache"),
      RESTIC_REPOSITORY: path.join(root, `repo-${tag}`), RESTIC_PASSWORD: "backup-pw-7f3a", BACKUP_HOST: "homelab", BACKUP_TAG: tag,
      KEEP_DAILY: "7", KEEP_WEEKLY: "4", KEEP_MONTHLY: "6", ...extra,
    });
    const sh = (script: string, args: string[], e: Record<string, string>) => spawnSync("sh", [path.join(SCRIPTS, script), ...args], { encoding: "utf8", timeout: 120_000, env: e });

    it("the registry's storage: two backups, retention, then a restore into an emptied volume gives the same files", () => {
      const registry = path.join(root, "node/var/lib/registry");
      const blobs = path.join(registry, "docker/registry/v2/blobs/sha256/ab/abcd");
      fs.mkdirSync(blobs, { recursive: true });
      fs.mkdirSync(path.join(registry, "docker/registry/v2/repositories/platform/sample-api/_manifests/tags/1.0.0"), { recursive: true });
      fs.writeFileSync(path.join(blobs, "data"), crypto.randomBytes(3 * 1024 * 1024));
      // Older restic exits 1, not 10, for a missing repository: create it as restic >= 0.17 would.
      expect(spawnSync("restic", ["init"], { encoding: "utf8", env: env("registry") }).status).toBe(0);
      const first = sh("backup.sh", [registry], env("registry"));
      expect(first.status, first.stderr).toBe(0);
      fs.writeFileSync(path.join(registry, "docker/registry/v2/repositories/platform/sample-api/_manifests/tags/1.0.0/link"), "sha256:abcd");
      const second = sh("backup.sh", [registry], env("registry"));
      expect(second.status, second.stderr).toBe(0);
      const snapshots = JSON.parse(spawnSync("restic", ["snapshots", "--json", "--host", "homelab", "--tag", "registry"], { encoding: "utf8", env: env("registry") }).stdout);
      // keep-daily 7 keeps one per day: today's newest.
      expect(snapshots).toHaveLength(1);
      const expected = digest(registry);

      // The emptied volume where the restore pod mounts it: RESTORE_ROOT + the snapshot's path.
      const volume = path.join(root, "fresh-root", registry);
      fs.mkdirSync(path.join(volume, "docker/registry/v2/repositories/stale"), { recursive: true });
      fs.mkdirSync(path.join(root, "work"));
      const restored = sh("restore-registry.sh", [], env("registry", { SNAPSHOT_PATH: registry, RESTORE_ROOT: path.join(root, "fresh-root"), WORK_DIR: path.join(root, "work") }));
      // restic dump names entries by their path in the snapshot: unpacked under RESTORE_ROOT.
      expect(restored.status, restored.stderr).toBe(0);
      expect(digest(volume)).toEqual(expected);
      expect(restored.stdout).toContain("restore-registry: restored snapshot latest: 1 repositories");
    });

    it("a single file (a database dump) comes back byte for byte, from the latest or a named snapshot", () => {
      const src = path.join(root, "backup");
      fs.mkdirSync(src);
      const dump = path.join(src, "sample.dump");
      fs.writeFileSync(dump, crypto.randomBytes(200_000));
      expect(spawnSync("restic", ["init"], { encoding: "utf8", env: env("postgres") }).status).toBe(0);
      const b = sh("backup.sh", [dump], env("postgres"));
      expect(b.status, b.stderr).toBe(0);
      const id = JSON.parse(spawnSync("restic", ["snapshots", "--json", "--latest", "1"], { encoding: "utf8", env: env("postgres") }).stdout)[0].short_id;
      for (const snapshot of ["latest", id]) {
        const out = path.join(root, `restore-${snapshot}`);
        const r = sh("restore-fetch.sh", [out, dump], env("postgres", { SNAPSHOT: snapshot }));
        expect(r.status, r.stderr).toBe(0);
        expect(fs.readFileSync(path.join(out, "sample.dump")).equals(fs.readFileSync(dump)), snapshot).toBe(true);
      }
      // The wrong password opens nothing: restic's encryption, not the store, protects the data.
      const wrong = sh("restore-fetch.sh", [path.join(root, "nope"), dump], env("postgres", { RESTIC_PASSWORD: "wrong" }));
      expect(wrong.status).not.toBe(0);
    });
  });
});
