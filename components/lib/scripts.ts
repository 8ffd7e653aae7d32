// Shell scripts live as real .sh files (checked by shellcheck in the suite); these helpers feed
// them to @pulumi/command with their inputs, keeping secrets out of argv and process listings.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

const COMPONENTS = path.resolve(__dirname, "..");

/** Reads a script shipped under components/, e.g. "cluster/scripts/install-k3s.sh". */
export function readScript(relative: string): string {
  return fs.readFileSync(path.join(COMPONENTS, relative), "utf8");
}

function b64(value: string): string {
  return Buffer.from(value, "utf8").toString("base64");
}

/**
 * The text sent on stdin to a remote shell: each input exported from base64 (no quoting pitfalls),
 * then the script itself. Secret inputs keep the result secret.
 */
export function scriptWithEnv(script: string, env: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
  const names = Object.keys(env).sort();
  for (const name of names) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`scriptWithEnv: invalid variable name ${name}`);
  }
  return pulumi.all(names.map((n) => env[n])).apply((values) => {
    const lines = names.map((n, i) => `export ${n}="$(printf '%s' '${b64(values[i])}' | base64 -d)"`);
    return ["#!/usr/bin/env bash", ...lines, script.replace(/^#!.*\n/, "")].join("\n");
  });
}

/** Runs stdin as a root script from a private temp file that is removed afterwards. */
export const RUN_STDIN_AS_ROOT =
  'f="$(mktemp)" && cat > "$f" && sudo -n bash "$f"; rc=$?; rm -f "$f"; exit $rc';

/** Runs stdin as the SSH user (no sudo): for read-only checks such as the preflight. */
export const RUN_STDIN = 'f="$(mktemp)" && cat > "$f" && bash "$f"; rc=$?; rm -f "$f"; exit $rc';
