// Evaluates the program (index.ts) for one stack under Pulumi's mock runtime, as `pulumi up` would:
// the committed stacks/Pulumi.<stack>.yaml, placeholders for the secrets no file can carry, and the
// same mocks the tests use. Nothing reaches a cloud, a host or a cluster.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import * as pulumi from "@pulumi/pulumi";
import type { Created } from "../test/helpers/mocks";
import { unwrap } from "../test/helpers/mocks";

export const ROOT = path.resolve(__dirname, "..");
export const STACKS = ["oci", "dev", "homelab"] as const;

/**
 * Secrets a stack requires that only `pulumi config set --secret` can provide. Offline they are
 * dummy placeholders (the same the stack tests use); the render says so in summary.md.
 */
export const OFFLINE_SECRETS: Record<string, Record<string, string>> = {
  oci: {},
  dev: {},
  homelab: { "platform:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nplaceholder\n-----END OPENSSH PRIVATE KEY-----\n" },
};

/** The committed config of a stack, values as the engine passes them (strings; objects as JSON). */
export function stackConfig(stack: string): Record<string, string> {
  const file = path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file stacks/Pulumi.${stack}.yaml`);
  const doc = YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc?.config ?? {})) out[k] = typeof v === "string" ? v : JSON.stringify(v);
  return out;
}

export interface Evaluation {
  readonly stack: string;
  readonly created: Created[];
  readonly outputs: Record<string, unknown>;
  /** Config keys that were filled with placeholders. */
  readonly placeholders: string[];
  readonly ms: number;
}

/**
 * How to get a fresh module graph: the program and the mocks (whose counters, e.g. instance IPs,
 * must restart with every stack so that a render is the same however often it runs).
 */
export interface ProgramLoader {
  reset(): void;
  mocks(): Promise<typeof import("../test/helpers/mocks")>;
  program(): Promise<Record<string, unknown>>;
}

const isProjectModule = (key: string) => key.startsWith(ROOT) && !key.includes(`${path.sep}node_modules${path.sep}`);

/** Plain Node (tsx): forget every project module, then require again. */
export const requireProgram: ProgramLoader = {
  reset: () => { for (const key of Object.keys(require.cache)) if (isProjectModule(key)) delete require.cache[key]; },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  mocks: async () => require("../test/helpers/mocks"),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  program: async () => require(path.join(ROOT, "index")),
};

export async function evaluateStack(stack: string, load: ProgramLoader = requireProgram): Promise<Evaluation> {
  const started = performance.now();
  load.reset();
  const { mocks } = await load.mocks();
  const created: Created[] = [];
  await pulumi.runtime.setMocks(mocks(created), "gitops-platform", stack, false);
  const secrets = OFFLINE_SECRETS[stack] ?? {};
  pulumi.runtime.setAllConfig({ ...stackConfig(stack), ...secrets }, Object.keys(secrets));
  const mod = await load.program();
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mod)) {
    if (k === "default" || k === "__esModule") continue;
    let timer: NodeJS.Timeout | undefined;
    outputs[k] = await Promise.race([
      unwrap(v === undefined ? v : pulumi.output(v as any)),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`stack ${stack}: output "${k}" did not resolve within 10 s (an unmocked invoke or a failing apply?)`)), 10_000); }),
    ]).finally(() => clearTimeout(timer));
  }
  // Registrations still in flight land in `created`.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return { stack, created, outputs, placeholders: Object.keys(secrets), ms: performance.now() - started };
}
