// Every credential the platform needs: from `pulumi config set --secret`, or generated here. Plus
// the fingerprints that let a rotation reach consumers which only read a credential at start.
import { createHash, createHmac } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { SecretInputs } from "../../config";

export interface PlatformSecrets {
  readonly giteaAdminPassword: pulumi.Output<string>;
  readonly argocdAdminPassword: pulumi.Output<string>;
  readonly guestPassword: pulumi.Output<string>;
  readonly registryPassword: pulumi.Output<string>;
  readonly k3sToken: pulumi.Output<string>;
  /** Shared between Gitea and act_runner (PM-10): Gitea accepts it as a global registration token. */
  readonly runnerToken: pulumi.Output<string>;
  /** CI's registry push user (#14.1): generated only; the read-write registry instance knows it. */
  readonly registryPushPassword: pulumi.Output<string>;
  /** Gitea user Argo CD reads Git as (read collaborator on the platform repository, #14.1). */
  readonly gitReaderPassword: pulumi.Output<string>;
  /** Gitea bot CI pushes as (write collaborator on the platform repository, #14.1). */
  readonly ciBotPassword: pulumi.Output<string>;
  /** The sample app's database password when configured; undefined: SampleApp generates its own. */
  readonly databasePassword?: pulumi.Output<string>;
  /**
   * Key of the fingerprints put into cluster objects (pod annotations, the bootstrap Job's name):
   * anyone may read those, so they are keyed hashes, useless without this key. Derived from the
   * runner token, which is always generated (never a weak configured value) and already in every
   * stack's state: a key of its own would be a new RandomPassword, unknown in the first preview
   * after an upgrade, which leaves the charts whose values use it unrendered there (helm v4 Chart:
   * "Input properties have unknown values. Preview is incomplete.").
   */
  readonly fingerprintKey: pulumi.Output<string>;
}

type Generated = Exclude<keyof PlatformSecrets, "databasePassword" | "fingerprintKey">;

/** Lengths for generated secrets. The runner token is alphanumeric because Gitea compares it as text. */
const LENGTHS: Record<Generated, number> = {
  giteaAdminPassword: 24, argocdAdminPassword: 24, guestPassword: 20, registryPassword: 32, k3sToken: 48, runnerToken: 40,
  registryPushPassword: 32, gitReaderPassword: 32, ciBotPassword: 32,
};

export function platformSecrets(name: string, given: SecretInputs, parent: pulumi.Resource): PlatformSecrets {
  const pick = (key: Generated, supplied?: pulumi.Output<string>): pulumi.Output<string> => {
    if (supplied) return pulumi.secret(supplied);
    const generated = new random.RandomPassword(`${name}-${key}`, {
      length: LENGTHS[key], special: false, minUpper: 2, minLower: 2, minNumeric: 2,
    }, { parent });
    return pulumi.secret(generated.result);
  };
  const runnerToken = pick("runnerToken");
  return {
    giteaAdminPassword: pick("giteaAdminPassword", given.giteaAdminPassword),
    argocdAdminPassword: pick("argocdAdminPassword", given.argocdAdminPassword),
    guestPassword: pick("guestPassword", given.guestPassword),
    registryPassword: pick("registryPassword", given.registryPassword),
    k3sToken: pick("k3sToken", given.k3sToken),
    runnerToken,
    registryPushPassword: pick("registryPushPassword"),
    gitReaderPassword: pick("gitReaderPassword"),
    ciBotPassword: pick("ciBotPassword"),
    ...(given.databasePassword ? { databasePassword: pulumi.secret(given.databasePassword) } : {}),
    fingerprintKey: pulumi.secret(runnerToken.apply((t) => keyedHash(t, "platform/fingerprint-key", "v1"))),
  };
}

/**
 * A fingerprint kept in Pulumi's state only (a ChangeGuard, a PasswordMtime): sha256 under a
 * fixed label, and secret like the value it stands for.
 */
export function stateFingerprint(label: string, value: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.secret(pulumi.output(value).apply((v) => createHash("sha256").update(`${label}\0`).update(v, "utf8").digest("hex")));
}

/** HMAC-SHA256 under `key`, hex. Pure. */
export function keyedHash(key: string, label: string, value: string): string {
  if (key.length === 0) throw new Error("keyedHash: empty key");
  return createHmac("sha256", key).update(`${label}\0`).update(value, "utf8").digest("hex");
}

/**
 * A fingerprint for cluster objects (a pod annotation that rolls the pod when a credential
 * changes). Keyed with PlatformSecrets.fingerprintKey, so it tells nothing about the credential
 * without the key, even for a weak password; hence not secret: a secret would make the whole chart
 * values or the Job's name secret in the state and hide every diff of them.
 */
export function clusterFingerprint(key: pulumi.Input<string>, label: string, value: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.unsecret(pulumi.all([key, value]).apply(([k, v]) => keyedHash(k, label, v).slice(0, 32)));
}
