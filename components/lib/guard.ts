// Refuses a change that cannot be carried out in place (the K3s token of a live cluster, the SSH
// key an instance was launched with). A dynamic resource holds a fingerprint of the value; when a
// later program brings another one, its `check` fails, so `pulumi preview` and `pulumi up` stop
// before anything changes, with a message that says what to do instead.
import * as pulumi from "@pulumi/pulumi";

export interface GuardInputs {
  /** A fingerprint of the guarded value (never the value itself). */
  readonly fingerprint: string;
  /** What the user sees when the value changes: why it cannot change in place, and what to do. */
  readonly message: string;
  /**
   * A value the user sets in config to let one change through: a changed fingerprint passes only
   * together with a confirmation that differs from the one recorded at the last run (so each
   * confirmation is used once). Absent or empty: every change is refused.
   */
  readonly confirmation?: string;
}

/** A new, non-empty confirmation: the user has accepted the change this run brings. Pure. */
export function guardConfirmed(olds: Partial<GuardInputs>, news: GuardInputs): boolean {
  return !!news.confirmation && news.confirmation !== (olds.confirmation ?? "");
}

/** The check the engine runs before every diff: a changed fingerprint is a failure. Pure. */
export function guardCheck(olds: Partial<GuardInputs>, news: GuardInputs): { inputs: GuardInputs; failures?: { property: string; reason: string }[] } {
  if (olds.fingerprint !== undefined && olds.fingerprint !== news.fingerprint && !guardConfirmed(olds, news)) {
    return { inputs: news, failures: [{ property: "fingerprint", reason: news.message }] };
  }
  return { inputs: news };
}

// Dynamic providers are serialized into the state with what they capture (guardCheck included).
export const guardProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: any, news: any) {
    return guardCheck(olds, news);
  },
  async create(inputs: any) {
    return { id: "guard", outs: inputs };
  },
  async diff(_id: string, olds: any, news: any) {
    return { changes: olds.fingerprint !== news.fingerprint || olds.message !== news.message || (olds.confirmation ?? "") !== (news.confirmation ?? "") };
  },
  async update(_id: string, olds: any, news: any) {
    if (olds.fingerprint !== news.fingerprint && !guardConfirmed(olds, news)) throw new Error(news.message);
    return { outs: news };
  },
};

export class ChangeGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: { fingerprint: pulumi.Input<string>; message: string; confirmation?: string }, opts?: pulumi.CustomResourceOptions) {
    const confirmation = args.confirmation === undefined ? {} : { confirmation: args.confirmation };
    super(guardProvider, name, { fingerprint: args.fingerprint, message: args.message, ...confirmation }, { ...opts, additionalSecretOutputs: ["fingerprint"] });
  }
}
