// The dev cluster: k3d on the developer's Docker, created from a config file, deleted on destroy.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { readScript } from "../lib/scripts";
import { versions } from "../lib/versions";
import { k3dConfig, K3dConfigArgs } from "./k3d-config";
import { registriesYaml, stableYaml } from "./k3s-config";
import { RegistryMirror } from "./k3s";

export interface K3dArgs extends Omit<K3dConfigArgs, "registriesYaml"> {
  readonly registry: RegistryMirror;
}

export class K3d extends pulumi.ComponentResource {
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly apiServer: pulumi.Output<string>;

  constructor(name: string, args: K3dArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:cluster:K3d", name, {}, opts);
    const config = pulumi.output(args.registry.password).apply((password) =>
      stableYaml(k3dConfig({ ...args, registriesYaml: stableYaml(registriesYaml({ ...args.registry, password })) })));
    const cluster = new command.local.Command(`${name}-cluster`, {
      interpreter: ["/bin/bash", "-c"],
      create: readScript("cluster/scripts/k3d-up.sh"),
      delete: readScript("cluster/scripts/k3d-down.sh"),
      environment: {
        K3D_CLUSTER: args.name,
        K3D_CONFIG_B64: config.apply((c) => Buffer.from(c, "utf8").toString("base64")),
        K3D_VERSION: versions.k3d,
      },
      logging: "stderr",
      // k3d cannot reconfigure a running cluster (image, ports, registries.yaml): a changed config
      // replaces it, deleting the old one first so the create does not find it and skip.
      triggers: [config.apply((c) => createHash("sha256").update(c).digest("hex"))],
    }, { parent: this, additionalSecretOutputs: ["stdout"], deleteBeforeReplace: true });
    this.apiServer = pulumi.output(`https://127.0.0.1:${args.apiPort}`);
    this.kubeconfig = pulumi.secret(cluster.stdout);
    this.registerOutputs({ apiServer: this.apiServer, kubeconfig: this.kubeconfig });
  }
}
