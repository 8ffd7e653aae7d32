import { describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { needs } from "./helpers/binaries";
import { ROOT } from "./helpers/stack";

function shellScripts(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === "node_modules" || e.name.startsWith(".git") || e.name === "out") return [];
    const p = path.join(dir, e.name);
    return e.isDirectory() ? shellScripts(p) : e.name.endsWith(".sh") ? [p] : [];
  });
}

describe("shell scripts", () => {
  const scripts = shellScripts(ROOT);
  it("there are scripts to check", () => {
    expect(scripts.map((s) => path.relative(ROOT, s))).toEqual(expect.arrayContaining([
      "components/cluster/scripts/install-k3s.sh", "components/host/scripts/preflight.sh", "components/cluster/scripts/k3d-up.sh",
    ]));
  });
  const shellcheck = needs("shellcheck");
  shellcheck.it("pass shellcheck at warning level (and so does .ci/run)", () => {
    const r = spawnSync(shellcheck.bin("shellcheck"), ["-S", "warning", "-f", "gcc", ...scripts, path.join(ROOT, ".ci/run")], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
