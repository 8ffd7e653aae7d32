// Keeps the first value it was given until its key changes. For values read from a machine that
// stay the same for the machine's life (a cluster's CA and token) but whose reading command re-runs
// on unrelated changes (a new SSH address): a re-run command's output is unknown during preview,
// and everything built from it (the provider's kubeconfig) would be too. A latch's diff ignores the
// value, so the engine keeps its outputs known ("same") unless the key, the identity of what was
// read, changes; then it is replaced and takes the new value.
import * as pulumi from "@pulumi/pulumi";

export interface LatchInputs {
  /** What the value belongs to (e.g. the cluster's identity); a new key replaces the latch. */
  readonly key: string;
  readonly value: string;
}

/** The diff the engine asks for before every update. Pure. */
export function latchDiff(olds: Partial<LatchInputs>, news: Partial<LatchInputs>): pulumi.dynamic.DiffResult {
  if (olds.key !== news.key) return { changes: true, replaces: ["key"], deleteBeforeReplace: false };
  return { changes: false };
}

// Dynamic providers are serialized into the state with what they capture (latchDiff included).
export const latchProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: any, news: any) {
    return latchDiff(olds, news);
  },
  async create(inputs: any) {
    return { id: "latch", outs: { key: inputs.key, value: inputs.value } };
  },
  // Unreachable while diff never reports an in-place change; keeps the old value if it ever is.
  async update(_id: string, olds: any, news: any) {
    return { outs: { key: news.key, value: olds.value } };
  },
};

export class Latch extends pulumi.dynamic.Resource {
  declare public readonly key: pulumi.Output<string>;
  declare public readonly value: pulumi.Output<string>;

  constructor(name: string, args: { key: pulumi.Input<string>; value: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(latchProvider, name, { key: args.key, value: args.value }, { ...opts, additionalSecretOutputs: ["value"] });
  }
}
