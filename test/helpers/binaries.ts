// Tests that run a real binary (a Debian package, or git/curl/python3) get it here. When it is
// missing the test is skipped with the reason, recorded for the list printed at the end of the run
// (global-setup.ts); with CI=true it fails instead, so CI proves every real-component test ran.
import { describe, it, TestContext, TestFunction } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");

/** Each binary and the Debian package that ships it (what .ci/run installs when missing). */
export const PACKAGES = {
  promtool: "prometheus",
  prometheus: "prometheus",
  shellcheck: "shellcheck",
  initdb: "postgresql",
  pg_ctl: "postgresql",
  postgres: "postgresql",
  // The backup and restore tests' clients (postgresql pulls them in, in the same directory).
  psql: "postgresql",
  pg_dump: "postgresql",
  pg_restore: "postgresql",
  pg_isready: "postgresql",
  restic: "restic",
  setpriv: "util-linux",
  "docker-registry": "docker-registry",
  htpasswd: "apache2-utils",
  ip: "iproute2",
  iptables: "iptables",
  "iptables-save": "iptables",
  python3: "python3",
  git: "git",
  curl: "curl",
  openssl: "openssl",
  jq: "jq",
  sshd: "openssh-server",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  "ssh-keyscan": "openssh-client",
} as const;
export type Tool = keyof typeof PACKAGES;
/** "root": uid 0, or passwordless sudo (GitHub's runners); see Requirement.asRoot. */
export type Need = Tool | "root";

const POSTGRES_TOOLS: ReadonlySet<string> = new Set(["initdb", "pg_ctl", "postgres", "psql", "pg_dump", "pg_restore", "pg_isready"]);
/** Daemons a user's PATH may lack (Debian puts /usr/sbin on root's PATH only). */
const SBIN_TOOLS: ReadonlySet<string> = new Set(["sshd"]);

/** Debian installs initdb, pg_ctl and postgres in /usr/lib/postgresql/<major>/bin, not on PATH. */
function postgresDirs(): string[] {
  const base = "/usr/lib/postgresql";
  let majors: string[] = [];
  try { majors = fs.readdirSync(base).filter((d) => /^\d+$/.test(d)); } catch { return []; }
  return majors.sort((a, b) => Number(b) - Number(a)).map((m) => path.join(base, m, "bin"));
}

/** Absolute path of an executable, from PATH (and Debian's PostgreSQL directories), or undefined. */
export function which(tool: Tool): string | undefined {
  const dirs = (process.env.PATH ?? "").split(":").filter(Boolean);
  if (POSTGRES_TOOLS.has(tool)) dirs.push(...postgresDirs());
  if (SBIN_TOOLS.has(tool)) dirs.push("/usr/sbin", "/sbin");
  for (const dir of dirs) {
    const p = path.join(dir, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

let rootPrefix: string[] | null | undefined;
/** [] as root, ["sudo", "-n"] with passwordless sudo, null otherwise. */
function privileged(): string[] | null {
  if (rootPrefix !== undefined) return rootPrefix;
  if (process.getuid?.() === 0) rootPrefix = [];
  else rootPrefix = spawnSync("sudo", ["-n", "true"], { timeout: 5_000 }).status === 0 ? ["sudo", "-n"] : null;
  return rootPrefix;
}

export interface Requirement {
  /** Undefined when everything is there; else what is missing and which Debian package has it. */
  readonly reason: string | undefined;
  /** The absolute path of a tool this requirement found (throws for one it did not ask for). */
  bin(tool: Tool): string;
  /** Prefix for commands that need root: [] as root, ["sudo", "-n"] otherwise ("root" must be needed). */
  readonly asRoot: string[];
  /** it(), or a test that skips (locally) or fails (CI=true) naming what is missing. */
  it(name: string, fn: TestFunction, timeout?: number): void;
  /** describe(), or one such test in its place: the body (and its hooks) never runs. */
  describe(name: string, fn: () => void): void;
}

export function needs(...wanted: Need[]): Requirement {
  const found = new Map<Tool, string>();
  const missing: string[] = [];
  for (const w of wanted) {
    if (w === "root") {
      if (privileged() === null) missing.push("root (or passwordless sudo)");
      continue;
    }
    const p = which(w);
    if (p) found.set(w, p);
    else missing.push(`${w} (Debian package ${PACKAGES[w]})`);
  }
  const reason = missing.length ? `needs ${missing.join(", ")}` : undefined;
  const standIn = (ctx: TestContext) => unavailable(ctx, reason!);
  return {
    reason,
    bin(tool) {
      const p = found.get(tool);
      if (!p) throw new Error(`needs(): ${tool} was not asked for or is missing`);
      return p;
    },
    get asRoot() {
      const p = wanted.includes("root") ? privileged() : null;
      if (p === null) throw new Error("needs(): root was not asked for or is not available");
      return p;
    },
    it(name, fn, timeout) {
      if (reason) it(name, standIn);
      else it(name, fn, timeout);
    },
    describe(name, fn) {
      if (reason) describe(name, () => it("(every test of this block)", standIn));
      else describe(name, fn);
    },
  };
}

function fullName(ctx: TestContext): string {
  const names: string[] = [];
  for (let t: any = ctx.task; t && t.type !== "module" && t.name; t = t.suite) names.unshift(t.name);
  return names.join(" > ");
}

function unavailable(ctx: TestContext, reason: string): void {
  if (process.env.CI === "true") {
    throw new Error(`${reason}: with CI=true a missing binary is a failure (.ci/run installs the Debian packages)`);
  }
  const file = path.relative(ROOT, ctx.task.file.filepath);
  const log = process.env.GITOPS_TEST_SKIP_LOG;
  if (log) fs.appendFileSync(log, `${JSON.stringify({ file, test: fullName(ctx), reason })}\n`);
  console.warn(`SKIP ${file} > ${fullName(ctx)}: ${reason}`);
  ctx.skip(reason);
}
