// Every credential the platform needs: from `pulumi config set --secret`, or generated here.
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
}

/** Lengths for generated secrets. The runner token is alphanumeric because Gitea compares it as text. */
const LENGTHS: Record<keyof PlatformSecrets, number> = {
  giteaAdminPassword: 24, argocdAdminPassword: 24, guestPassword: 20, registryPassword: 32, k3sToken: 48, runnerToken: 40,
};

export function platformSecrets(name: string, given: SecretInputs, parent: pulumi.Resource): PlatformSecrets {
  const pick = (key: keyof PlatformSecrets, supplied?: pulumi.Output<string>): pulumi.Output<string> => {
    if (supplied) return pulumi.secret(supplied);
    const generated = new random.RandomPassword(`${name}-${key}`, {
      length: LENGTHS[key], special: false, minUpper: 2, minLower: 2, minNumeric: 2,
    }, { parent });
    return pulumi.secret(generated.result);
  };
  return {
    giteaAdminPassword: pick("giteaAdminPassword", given.giteaAdminPassword),
    argocdAdminPassword: pick("argocdAdminPassword", given.argocdAdminPassword),
    guestPassword: pick("guestPassword", given.guestPassword),
    registryPassword: pick("registryPassword", given.registryPassword),
    k3sToken: pick("k3sToken", given.k3sToken),
    runnerToken: pick("runnerToken"),
  };
}
