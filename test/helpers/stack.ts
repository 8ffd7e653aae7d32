// Evaluates the whole program (index.ts) under mocks, as `pulumi up` would for a stack, with the
// committed stacks/Pulumi.<stack>.yaml plus whatever a test adds.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { vi } from "vitest";
import { Created, MockOptions, mocks, unwrap } from "./mocks";
import { assertEngineInvariants, EngineRecord, installEngineChecks } from "./engine";

export const ROOT = path.resolve(__dirname, "../..");

/** Secrets a stack needs that the committed files cannot carry (no secrets provider offline). */
export const TEST_SECRETS: Record<string, Record<string, string>> = {
  oci: {},
  homelab: { "platform:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nmock-ssh-key-7f3a9c\n-----END OPENSSH PRIVATE KEY-----\n" },
  dev: {},
};

export function stackFileConfig(stack: string): Record<string, string> {
  const file = path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return {};
  const doc = YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) out[k] = typeof v === "string" ? v : JSON.stringify(v);
  return out;
}

export interface StackRun {
  readonly created: Created[];
  /** URNs as the engine names them; a run with a repeated URN or object has already failed. */
  readonly engine: EngineRecord;
  readonly outputs: Record<string, unknown>;
  readonly ms: number;
}

export interface StackOptions {
  /** Config added to (or, with undefined, removed from) the committed file's. */
  readonly config?: Record<string, string | undefined>;
  readonly secrets?: Record<string, string>;
  /** Stack name: defaults to the file's name. */
  readonly stackName?: string;
  /** Skip the committed stack file. */
  readonly bare?: boolean;
  /** How the mocks answer (e.g. a new public IP for the instances). */
  readonly mocks?: MockOptions;
}

/** A fresh module graph with mocks and the stack's config installed; returns the runtime and the record. */
async function prepare(stack: string, opts: StackOptions) {
  vi.resetModules();
  const pulumi = await import("@pulumi/pulumi");
  const created: Created[] = [];
  const stackName = opts.stackName ?? stack;
  pulumi.runtime.setMocks(mocks(created, opts.mocks), "gitops-platform", stackName, false);
  const engine = installEngineChecks(pulumi, stackName, "gitops-platform");
  const config: Record<string, string> = { ...(opts.bare ? {} : stackFileConfig(stack)) };
  for (const [k, v] of Object.entries(opts.config ?? {})) {
    if (v === undefined) delete config[k];
    else config[k] = v;
  }
  const secrets = opts.secrets ?? TEST_SECRETS[stack] ?? {};
  pulumi.runtime.setAllConfig({ ...config, ...secrets }, Object.keys(secrets));
  return { pulumi, created, engine };
}

/** Runs index.ts for `stack` in a fresh module graph; rejects with the program's error. */
export async function runStack(stack: string, opts: StackOptions = {}): Promise<StackRun> {
  const started = performance.now();
  const { pulumi, created, engine } = await prepare(stack, opts);
  const mod = (await import("../../index")) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mod)) {
    if (k === "default" || k === "__esModule") continue;
    // An output that never resolves means a failed invoke or apply under mocks: say which.
    outputs[k] = await Promise.race([
      // pulumi.output() lifts nested Outputs, as the engine does for stack outputs.
      unwrap(v === undefined ? v : pulumi.output(v as any)),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`stack ${stack}: output "${k}" did not resolve within 10 s (an unmocked invoke or a failing apply?)`)), 10_000)),
    ]);
  }
  // Let registrations still in flight land in `created`.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  // What the engine and the API server would refuse fails the run, as `pulumi up` would.
  assertEngineInvariants(created, engine, `stack ${stack}`);
  return { created, engine, outputs, ms: performance.now() - started };
}

/**
 * Runs a stack that must fail; returns the error and what was registered meanwhile. The program
 * fails either while loading (config) or in its outputs (a check awaiting an invoke first), as
 * the engine reports either.
 */
export async function runStackError(stack: string, opts: StackOptions = {}): Promise<{ error: Error; created: Created[] }> {
  const { pulumi, created } = await prepare(stack, opts);
  let mod: Record<string, unknown>;
  try {
    mod = (await import("../../index")) as Record<string, unknown>;
  } catch (error) {
    return { error: error as Error, created };
  }
  const outputs = Object.entries(mod).filter(([k, v]) => k !== "default" && k !== "__esModule" && v !== undefined);
  const settled = await Promise.allSettled(outputs.map(([, v]) => (pulumi.output(v as any) as unknown as { promise(): Promise<unknown> }).promise()));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) return { error: failed.reason as Error, created };
  throw new Error(`stack ${stack} was expected to fail but evaluated`);
}
