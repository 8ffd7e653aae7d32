// The dev cluster: k3d on the developer's Docker, created from a config file, deleted on destroy.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Latch } from "../lib/latch";
import { readScript } from "../lib/scripts";
import { versions } from "../lib/versions";
import { k3dConfig, K3dConfigArgs } from "./k3d-config";
import { registriesYaml, stableYaml } from "./k3s-config";
import { parseCredentials, PULUMI_ACCESS, pulumiAccessManifest, tokenKubeconfig } from "./kubeconfig";
import { RegistryMirror } from "./k3s";

export interface K3dArgs extends Omit<K3dConfigArgs, "registriesYaml"> {
  readonly registry: RegistryMirror;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

export class K3d extends pulumi.ComponentResource {
  /** Kubeconfig for the stack: the cluster CA and the ServiceAccount token (secret). */
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly apiServer: pulumi.Output<string>;
  /** The k3d cluster resource's id: new exactly when the cluster is created again. */
  public readonly clusterIdentifier: pulumi.Output<string>;
  /** The resource whose deletion takes the cluster and everything in it (deletedWith target). */
  public readonly cluster: pulumi.Resource;
  /** Commands that must finish (a restart for a new registries.yaml) before anything talks to the API. */
  public readonly ready: pulumi.Resource[];

  constructor(name: string, args: K3dArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:cluster:K3d", name, {}, opts);
    const registries = pulumi.output(args.registry.password).apply((password) => stableYaml(registriesYaml({ ...args.registry, password })));
    const config = registries.apply((r) => stableYaml(k3dConfig({ ...args, registriesYaml: r })));

    // k3d cannot reconfigure a running cluster (image, ports): a changed config replaces it. The
    // registries (and the password in them) are left out: k3d-registries.sh updates them in place.
    // The latch keeps the trigger value of an existing cluster (the whole config's hash, as it was
    // first computed) so that leaving the registries out recreates nothing on its own.
    const shape = sha256(stableYaml(k3dConfig({ ...args })));
    const trigger = new Latch(`${name}-config-hash`, { key: shape, value: config.apply(sha256) }, { parent: this });
    const cluster = new command.local.Command(`${name}-cluster`, {
      interpreter: ["/bin/bash", "-c"],
      create: readScript("cluster/scripts/k3d-up.sh"),
      delete: readScript("cluster/scripts/k3d-down.sh"),
      environment: {
        K3D_CLUSTER: args.name,
        K3D_CONFIG_B64: config.apply(b64),
        K3D_VERSION: versions.k3d,
        PULUMI_ACCESS_B64: b64(pulumiAccessManifest()),
        PULUMI_NAMESPACE: PULUMI_ACCESS.namespace,
        PULUMI_TOKEN_SECRET: PULUMI_ACCESS.secret,
      },
      logging: "stderr",
      triggers: [trigger.value],
    }, { parent: this, additionalSecretOutputs: ["stdout"], deleteBeforeReplace: true });

    // A rotated registry password reaches the nodes' registries.yaml in place. Created with the
    // cluster, whose nodes k3d already gave the same file; replaced with it (triggers).
    const nodeRegistries = new command.local.Command(`${name}-registries`, {
      interpreter: ["/bin/bash", "-c"],
      create: "true",
      update: readScript("cluster/scripts/k3d-registries.sh"),
      environment: { K3D_CLUSTER: args.name, REGISTRIES_B64: registries.apply(b64) },
      logging: "stderr",
      triggers: [cluster.id],
    }, { parent: this, dependsOn: [cluster] });

    this.clusterIdentifier = pulumi.interpolate`k3d:${cluster.id}`;
    this.cluster = cluster;
    this.ready = [cluster, nodeRegistries];
    // k3d-up.sh re-runs (printing the same credentials) whenever its environment changes; the latch
    // keeps the kubeconfig known in previews of those runs.
    const credentials = new Latch(`${name}-credentials-pin`, { key: this.clusterIdentifier, value: cluster.stdout }, { parent: this });
    this.apiServer = pulumi.output(`https://127.0.0.1:${args.apiPort}`);
    this.kubeconfig = pulumi.secret(pulumi.all([credentials.value, this.apiServer])
      .apply(([creds, api]) => tokenKubeconfig({ name: `k3d-${args.name}`, server: api, credentials: parseCredentials(creds) })));
    this.registerOutputs({ apiServer: this.apiServer, kubeconfig: this.kubeconfig, clusterIdentifier: this.clusterIdentifier });
  }
}
