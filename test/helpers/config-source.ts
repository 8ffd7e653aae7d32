// A ConfigSource as loadConfig builds it from the engine's config: `values` were set in plaintext,
// `secrets` with --secret. Like pulumi.Config, `get` answers for both and `getSecret` wraps either;
// only isSecret tells them apart.
import * as pulumi from "@pulumi/pulumi";
import type { ConfigSource } from "../../config";

export function configSource(values: Record<string, string | undefined>, secrets: Record<string, string> = {}): ConfigSource {
  const all: Record<string, string | undefined> = { ...values, ...secrets };
  return {
    get: (k) => all[k],
    getSecret: (k) => (all[k] === undefined ? undefined : pulumi.secret(all[k]!)),
    isSecret: (k) => k in secrets,
  };
}
