// Argo CD: namespace first (PM-02), our own Secrets, its NetworkPolicies from the traffic plan, then the chart with
// values from the pure builder (argocd-values.ts). Passwords reach the chart only as bcrypt hashes,
// computed inside an apply so they stay secret (PM-05).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { ClusterContext } from "../lib/context";
import { bcryptHash } from "../lib/hash";
import { registerObject } from "../lib/objects";
import { pinnedChart } from "../lib/charts";
import { charts } from "../lib/versions";
import {
  argoCdNamespace, argoCdValues, assertBcrypt, redisSecret, repositorySecret,
} from "./argocd-values";
import { repoUrl } from "./bootstrap-repo";
import { PasswordMtime } from "./password-mtime";
import { stateFingerprint } from "../lib/secrets";
import { policiesIn } from "../traffic";

export interface ArgoCdArgs {
  readonly ctx: ClusterContext;
  /** Admin password (secret); only its bcrypt hash reaches the cluster. */
  readonly adminPassword: pulumi.Input<string>;
  /** Password of the read-only `guest` account (secret), bcrypt-hashed (PM-05). */
  readonly guestPassword: pulumi.Input<string>;
  /** Git user Argo CD reads the bootstrap repository as (the Gitea admin, or a read-only user). */
  readonly gitUsername: pulumi.Input<string>;
  /** That user's password or token (secret). */
  readonly gitPassword: pulumi.Input<string>;
}

export class ArgoCd extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  /** The chart: Applications depend on it (their CRD ships with it). */
  public readonly chart: k8s.helm.v4.Chart;
  /** In-cluster URL of the bootstrap repository Argo CD is configured for (PM-14). */
  public readonly repoUrl: string;

  constructor(name: string, args: ArgoCdArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:gitops:ArgoCd", name, {}, opts);
    const { ctx } = args;
    const overlays = ctx.profile.overlays;

    // PM-02: the namespace exists, with its annotations, before anything is installed into it.
    const ns = registerObject(argoCdNamespace(ctx), overlays, { parent: this });
    const inNs = { parent: this, dependsOn: [ns] };
    for (const policy of policiesIn(ctx, ctx.endpoints.argocd.namespace)) registerObject(policy, overlays, inNs);

    // The chart's redis-secret-init is a Helm hook that helm.v4.Chart never runs (argo-helm charts/argo-cd/templates/redis-secret-init/job.yaml: "helm.sh/hook": pre-install,pre-upgrade).
    const redisPassword = new random.RandomPassword(`${name}-redis`, { length: 32, special: false }, { parent: this });
    const redis = registerObject(redisSecret(ctx, pulumi.secret(redisPassword.result)), overlays, inNs);

    this.repoUrl = repoUrl(ctx);
    const repo = registerObject(repositorySecret({
      ctx, url: this.repoUrl, username: args.gitUsername, password: pulumi.secret(args.gitPassword),
    }), overlays, inNs);

    // Deterministic salt (hash.ts): the same password gives the same hash, so previews stay quiet.
    const hash = (password: pulumi.Input<string>, seed: string) =>
      pulumi.secret(pulumi.output(password).apply((p) => assertBcrypt(seed, bcryptHash(p, seed))));
    // A rotation moves the mtime, which ends the sessions of the old password (password-mtime.ts).
    const mtime = (password: pulumi.Input<string>, who: string) =>
      new PasswordMtime(`${name}-${who}-mtime`, { fingerprint: stateFingerprint(`argocd-${who}-password`, password) }, { parent: this }).mtime;
    const values = argoCdValues({
      ctx,
      adminPasswordHash: hash(args.adminPassword, "argocd-admin"),
      guestPasswordHash: hash(args.guestPassword, "argocd-guest"),
      adminPasswordMtime: mtime(args.adminPassword, "admin"),
      guestPasswordMtime: mtime(args.guestPassword, "guest"),
    });

    const pin = charts.argoCd;
    this.chart = pinnedChart(name, pin, { namespace: ctx.endpoints.argocd.namespace, values }, { parent: this, dependsOn: [ns, redis, repo] });

    this.namespace = pulumi.output(ctx.endpoints.argocd.namespace);
    this.registerOutputs({ namespace: this.namespace });
  }
}
