// K3s over SSH (oci, homelab): one server, optional agents, the registry mirror, and the
// kubeconfig read back as a secret pointing at an address Pulumi can reach.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { HostNode } from "../host/node";
import { readScript, scriptWithEnv, RUN_STDIN_AS_ROOT } from "../lib/scripts";
import { versions } from "../lib/versions";
import { k3sAgentConfig, k3sServerConfig, registriesYaml, rewriteKubeconfigServer, stableYaml } from "./k3s-config";

export interface RegistryMirror {
  /** The name images use, from the endpoints object (PM-40). */
  readonly host: string;
  readonly endpoint: string;
  readonly username: string;
  readonly password: pulumi.Input<string>;
}

export interface K3sArgs {
  readonly server: HostNode;
  readonly agents?: readonly HostNode[];
  /** Join token shared by server and agents (secret). */
  readonly token: pulumi.Input<string>;
  readonly registry: RegistryMirror;
  /** Extra names for the API certificate (e.g. a DNS name). */
  readonly extraTlsSans?: readonly string[];
  /** @default versions.k3s */
  readonly version?: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

export class K3s extends pulumi.ComponentResource {
  /** Admin kubeconfig for the cluster, server rewritten to the reachable address (secret). */
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly apiServer: pulumi.Output<string>;

  constructor(name: string, args: K3sArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:cluster:K3s", name, {}, opts);
    const version = args.version ?? versions.k3s;
    if (!/^v1\.\d+\.\d+\+k3s\d+$/.test(version)) throw new Error(`K3s: version must look like v1.34.1+k3s1, got ${version}`);
    const script = readScript("cluster/scripts/install-k3s.sh");
    const registries = pulumi.output(args.registry.password).apply((password) =>
      b64(stableYaml(registriesYaml({ ...args.registry, password }))));

    const server = args.server;
    const serverConfig = pulumi.all([server.publicAddress, server.privateAddress]).apply(([pub, priv]) =>
      b64(stableYaml(k3sServerConfig({
        tlsSans: [...new Set([pub, priv, ...(args.extraTlsSans ?? [])])],
        nodeCpus: server.cpus, nodeMemoryGb: server.memoryGb,
      }))));
    const serverInstall = new command.remote.Command(`${name}-server`, {
      connection: server.connection,
      create: RUN_STDIN_AS_ROOT,
      // Same command on update: the script reconciles files and restarts only on change.
      update: RUN_STDIN_AS_ROOT,
      // The previous stdout would travel as SSH env vars, which sshd refuses by default (a warning per run).
      addPreviousOutputInEnv: false,
      stdin: scriptWithEnv(script, {
        K3S_ROLE: "server", K3S_VERSION: version, K3S_TOKEN: args.token,
        K3S_CONFIG_B64: serverConfig, REGISTRIES_B64: registries, ROLLOUTS_VERSION: versions.kubectlArgoRollouts,
      }),
      delete: "sudo -n /usr/local/bin/k3s-uninstall.sh || true",
    }, { parent: this, dependsOn: server.ready });

    const serverUrl = pulumi.interpolate`https://${server.privateAddress}:6443`;
    for (const agent of args.agents ?? []) {
      new command.remote.Command(`${name}-${agent.name}`, {
        connection: agent.connection,
        create: RUN_STDIN_AS_ROOT,
        update: RUN_STDIN_AS_ROOT,
        addPreviousOutputInEnv: false,
        stdin: scriptWithEnv(script, {
          K3S_ROLE: "agent", K3S_VERSION: version, K3S_TOKEN: args.token, K3S_URL: serverUrl,
          K3S_CONFIG_B64: b64(stableYaml(k3sAgentConfig(agent.cpus, agent.memoryGb))), REGISTRIES_B64: registries,
        }),
        delete: "sudo -n /usr/local/bin/k3s-agent-uninstall.sh || true",
      }, { parent: this, dependsOn: [...agent.ready, serverInstall] });
    }

    const readKubeconfig = new command.remote.Command(`${name}-kubeconfig`, {
      connection: server.connection,
      create: "sudo -n cat /etc/rancher/k3s/k3s.yaml",
      // Re-read whenever the server was reinstalled or reconfigured (the id alone stays the same on update).
      triggers: [serverInstall.id, serverInstall.stdin],
      logging: "none",
    }, { parent: this, dependsOn: [serverInstall], additionalSecretOutputs: ["stdout"] });

    this.apiServer = pulumi.interpolate`https://${server.publicAddress}:6443`;
    this.kubeconfig = pulumi.secret(pulumi.all([readKubeconfig.stdout, this.apiServer])
      .apply(([kc, api]) => rewriteKubeconfigServer(kc, api)));
    this.registerOutputs({ apiServer: this.apiServer, kubeconfig: this.kubeconfig });
  }
}
