// Stand-ins on PATH for the tools a script calls (k3d, docker, sudo, ...), and PATHs that hold only
// chosen real tools, so a script can be run for real on any machine, "tool missing" included.
import * as fs from "fs";
import * as path from "path";

/** An executable bash script `name` in `dir`. */
export function stub(dir: string, name: string, body: string): void {
  fs.writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}

/** A directory of symlinks to the real `tools` (found on PATH): a PATH with nothing else on it. */
export function onlyTools(dir: string, tools: readonly string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  const searched = (process.env.PATH ?? "").split(":").filter(Boolean);
  for (const tool of tools) {
    const found = searched.map((d) => path.join(d, tool)).find((p) => {
      try { fs.accessSync(p, fs.constants.X_OK); return fs.statSync(p).isFile(); } catch { return false; }
    });
    if (!found) throw new Error(`onlyTools: ${tool} is not on PATH`);
    fs.symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}
