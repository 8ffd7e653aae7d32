// A temp directory with stub commands first on PATH, for running the real shell scripts against
// fakes (the install-k3s.test.ts pattern): every stub appends its argv to calls.log.
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Sandbox {
  readonly root: string;
  readonly stubs: string;
  readonly log: string;
  /** Writes an executable stub; `body` is bash, "$@" its arguments. */
  stub(name: string, body: string): void;
  /** Runs `cmd args` with the stubs first on PATH; returns the result and the calls logged. */
  run(cmd: string, args: readonly string[], env?: Record<string, string>, input?: string): SpawnSyncReturns<string> & { calls: string[] };
  calls(): string[];
  cleanup(): void;
}

export function sandbox(prefix: string): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const stubs = path.join(root, "stubs");
  fs.mkdirSync(stubs);
  const log = path.join(root, "calls.log");
  fs.writeFileSync(log, "");
  const calls = () => fs.readFileSync(log, "utf8").split("\n").filter((l) => l !== "");
  return {
    root, stubs, log,
    stub(name, body) {
      fs.writeFileSync(path.join(stubs, name), `#!/usr/bin/env bash\necho "${name} $*" >> "${log}"\n${body}\n`, { mode: 0o755 });
    },
    run(cmd, args, env = {}, input) {
      fs.writeFileSync(log, "");
      const r = spawnSync(cmd, [...args], {
        encoding: "utf8", timeout: 60_000, input,
        env: { PATH: `${stubs}:${process.env.PATH}`, HOME: root, TMPDIR: root, LANG: "C", ...env },
      });
      return Object.assign(r, { calls: calls() });
    },
    calls,
    cleanup() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The restic stand-in (helpers/restic-stub.sh), as the body of a sandbox stub. */
export const RESTIC_STUB = fs.readFileSync(path.join(__dirname, "restic-stub.sh"), "utf8").replace(/^#!.*\n/, "");
