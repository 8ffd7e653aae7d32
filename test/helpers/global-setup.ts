// Once per `npm test`: every temporary file of the run (os.tmpdir() in tests, mktemp in scripts,
// Python's tempfile, Go's os.TempDir) goes under one directory through TMPDIR, so a test that leaves
// something behind is named and fails the run instead of littering /tmp. At the end, the list of
// tests skipped for a missing binary (binaries.ts) is printed.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

interface Skip { file: string; test: string; reason: string }

export function setup(): () => void {
  const saved = process.env.TMPDIR;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-test-"));
  const tmp = path.join(root, "tmp");
  fs.mkdirSync(tmp);
  // Traversable, not listable: PostgreSQL runs as an unprivileged user when the suite runs as root.
  fs.chmodSync(root, 0o711);
  fs.chmodSync(tmp, 0o711);
  const skipLog = path.join(root, "skipped.jsonl");
  process.env.TMPDIR = tmp;
  process.env.GITOPS_TEST_SKIP_LOG = skipLog;

  return () => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    delete process.env.GITOPS_TEST_SKIP_LOG;
    const skips: Skip[] = fs.existsSync(skipLog)
      ? fs.readFileSync(skipLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Skip)
      : [];
    if (skips.length) {
      const lines = skips.map((s) => `  - ${s.file} > ${s.test}\n      ${s.reason}`);
      console.log(`\nSkipped: a binary (or root) they need is missing (${skips.length}; with CI=true these fail):\n${lines.join("\n")}\n`);
    }
    // tsx's compile cache (tsx-<uid>, from tests that run `npx tsx`) is a tool's, not a leak.
    const left = fs.readdirSync(tmp).filter((f) => !/^tsx-\d+$/.test(f));
    fs.rmSync(root, { recursive: true, force: true });
    if (left.length) {
      console.error(`\nTemporary files left behind by tests (removed now; clean them up in finally/afterAll):\n${left.map((f) => `  - ${f}`).join("\n")}\n`);
      process.exitCode = 1;
    }
  };
}
