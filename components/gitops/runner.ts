// act_runner with a Docker-in-Docker sidecar. Registers itself for the platform organisation only,
// with the token the bootstrap Job fetches from Gitea's API into RUNNER_TOKEN_SECRET (PM-10, issue
// 14), against the NodePort URL job containers reach (PM-24); its config gives job containers the
// pod's network and --add-host entries from the Services' ClusterIPs (PM-01).
import * as pulumi from "@pulumi/pulumi";
import { stableYaml } from "../cluster/k3s-config";
import { ClusterContext } from "../lib/context";
import { REGISTRY_NAME } from "../lib/endpoints";
import { K8sObject, namespace } from "../lib/k8s";
import { policiesIn } from "../traffic";
import { registerObject } from "../lib/objects";
import { sizeOf } from "../lib/sizes";
import { images } from "../lib/versions";
import { readScript } from "../lib/scripts";
import {
  RUNNER_CONFIG_MAP, RUNNER_NAMESPACE, RUNNER_START_SCRIPT, RUNNER_START_SCRIPT_PATH, runnerConfig, runnerDeployment, runnerLabels, runnerScope,
} from "./runner-config";

export interface RunnerArgs {
  readonly ctx: ClusterContext;
  /** The organisation the runner registers for (its jobs only: not instance-wide). */
  readonly org: string;
  /** ClusterIP of Gitea's `gitea-http` Service (Gitea.clusterIP): an Output, never a literal (PM-01). */
  readonly giteaClusterIP: pulumi.Input<string>;
  /** ClusterIP of the registry Service (Registry.clusterIP): job containers and dockerd push there. */
  readonly registryClusterIP: pulumi.Input<string>;
  /** Pinned multi-arch image behind the ubuntu-* labels (must carry git and node for actions/checkout). */
  readonly jobImage: string;
  /** Runner name shown in Gitea. @default "platform-runner" */
  readonly runnerName?: string;
  /** Concurrent jobs. @default 1 */
  readonly capacity?: number;
  /** PVC for /data (registration, action and cache data). @default "2Gi" */
  readonly dataSize?: string;
  /** dockerd MTU. @default DEFAULT_DIND_MTU (1400) */
  readonly mtu?: number;
}

export class Runner extends pulumi.ComponentResource {
  public readonly namespace: string;
  /** The Namespace: what writes into it (the bootstrap Job's Role) waits for. */
  public readonly namespaceResource: pulumi.Resource;
  /** The rendered config.yaml (ClusterIPs resolved). */
  public readonly config: pulumi.Output<string>;

  constructor(name: string, args: RunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:gitops:Runner", name, {}, opts);
    const { ctx } = args;
    const ep = ctx.endpoints;
    // The traffic plan (traffic.ts) names this namespace: the runner lives nowhere else.
    const ns = RUNNER_NAMESPACE;
    const runnerName = args.runnerName ?? "platform-runner";
    const dataSize = args.dataSize ?? "2Gi";
    if (!/^[1-9][0-9]*(Mi|Gi)$/.test(dataSize)) throw new Error(`Runner: dataSize "${dataSize}" must look like 2Gi`);
    const labels = runnerLabels(args.jobImage);
    const reg = (obj: K8sObject, dependsOn: pulumi.Resource[] = []) => registerObject(obj, ctx.profile.overlays, { parent: this, dependsOn });

    // privileged: the dind sidecar needs it (mounts, cgroups, iptables for its bridge). Nothing
    // else runs here, and the namespace has no ingress at all.
    const nsRes = reg(namespace({ name: ns, podSecurity: "privileged" }));
    for (const np of policiesIn(ctx, ns)) reg(np, [nsRes]);

    this.config = pulumi.all([args.giteaClusterIP, args.registryClusterIP]).apply(([giteaIP, registryIP]) => stableYaml(runnerConfig({
      hosts: [{ host: ep.gitea.fqdn, ip: giteaIP }, { host: REGISTRY_NAME, ip: registryIP }],
      labels,
      capacity: args.capacity,
    })));
    const configMap = reg({
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name: RUNNER_CONFIG_MAP, namespace: ns },
      data: { "config.yaml": this.config },
    }, [nsRes]);
    // The registration token Secret is the bootstrap Job's (it fetches the org's token): not declared here.
    const scripts = reg({
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name: `${runnerName}-scripts`, namespace: ns },
      data: { [RUNNER_START_SCRIPT]: readScript(RUNNER_START_SCRIPT_PATH) },
    }, [nsRes]);
    const claim = `${runnerName}-data`;
    const pvc = reg({
      apiVersion: "v1", kind: "PersistentVolumeClaim",
      metadata: { name: claim, namespace: ns },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: dataSize } } },
    }, [nsRes]);
    reg(runnerDeployment({
      namespace: ns,
      name: runnerName,
      actRunnerImage: images.actRunner,
      dindImage: images.dind,
      actRunnerResources: sizeOf(ctx.profile.size, "actRunner"),
      dindResources: sizeOf(ctx.profile.size, "dind"),
      instanceUrl: ep.gitea.runnerUrl,
      hostAliases: [{ host: ep.gitea.fqdn, ip: args.giteaClusterIP }, { host: REGISTRY_NAME, ip: args.registryClusterIP }],
      registryHost: ep.registry.host,
      dataClaim: claim,
      mtu: args.mtu,
      scope: runnerScope(args.org),
      scriptConfigMap: `${runnerName}-scripts`,
    }), [configMap, scripts, pvc]);

    this.namespace = ns;
    this.namespaceResource = nsRes;
    this.registerOutputs({ namespace: ns, config: this.config });
  }
}
