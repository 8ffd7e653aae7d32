// When an Argo CD password last changed. Argo CD refuses a session token issued before the
// account's passwordMtime (argo-cd v3.4.4 util/session/sessionmanager.go: "account password has
// changed since token issued"), so a rotation must move the mtime, or whoever held the old password
// keeps their session (24 h by default). Deterministic: the time is taken once per password, when
// its fingerprint first appears, and kept in the state; never `now` on every preview.
//
// The time is set in `check`, whose result the engine stores as the inputs; during a preview a
// dynamic provider's create and update hand those inputs back as the outputs (pulumi
// sdk/go/common/resource/plugin/provider_plugin.go: providers without preview support "return the
// inputs as the state"), so the mtime is known at preview and the Argo CD chart stays renderable.
import * as pulumi from "@pulumi/pulumi";

export interface MtimeInputs {
  /** Fingerprint of the password (secret, never the password: lib/secrets.ts stateFingerprint). */
  readonly fingerprint: string;
  /** RFC 3339, whole seconds, UTC: the format Argo CD parses (time.RFC3339). */
  readonly mtime: string;
  /** Marks the resource for readers of the state (and for the test mocks). */
  readonly kind: typeof MTIME_KIND;
}

export const MTIME_KIND = "password-mtime";
const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** `now` as Argo CD reads it: RFC 3339 in UTC, whole seconds (JWT iat has seconds). */
export function rfc3339(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The engine's check: keep the stored mtime while the fingerprint is the same, else take `now`. Pure. */
export function mtimeCheck(olds: Partial<MtimeInputs>, news: { fingerprint: string }, now: Date): { inputs: MtimeInputs } {
  if (typeof news.fingerprint !== "string" || news.fingerprint.length === 0) throw new Error("PasswordMtime: empty fingerprint");
  const same = olds.fingerprint === news.fingerprint && typeof olds.mtime === "string" && RFC3339_SECONDS.test(olds.mtime);
  return { inputs: { kind: MTIME_KIND, fingerprint: news.fingerprint, mtime: same ? olds.mtime! : rfc3339(now) } };
}

// Serialized into the state with what it captures (mtimeCheck, rfc3339).
export const mtimeProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: any, news: any) {
    return mtimeCheck(olds ?? {}, news, new Date());
  },
  async create(inputs: any) {
    return { id: MTIME_KIND, outs: inputs };
  },
  async diff(_id: string, olds: any, news: any) {
    return { changes: olds.fingerprint !== news.fingerprint || olds.mtime !== news.mtime };
  },
  async update(_id: string, _olds: any, news: any) {
    return { outs: news };
  },
};

export class PasswordMtime extends pulumi.dynamic.Resource {
  /** When the password behind the fingerprint first appeared (RFC 3339). */
  declare public readonly mtime: pulumi.Output<string>;

  constructor(name: string, args: { fingerprint: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(mtimeProvider, name, { kind: MTIME_KIND, fingerprint: args.fingerprint, mtime: undefined }, { ...opts, additionalSecretOutputs: ["fingerprint"] });
  }
}
