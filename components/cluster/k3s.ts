// K3s over SSH (oci, homelab): one server, optional agents, the registry mirror, and a kubeconfig
// built from the cluster CA and a ServiceAccount token (cluster/kubeconfig.ts says why not the admin one).
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { HostNode } from "../host/node";
import { ChangeGuard } from "../lib/guard";
import { Latch } from "../lib/latch";
import { readScript, scriptWithEnv, RUN_STDIN_AS_ROOT } from "../lib/scripts";
import { versions } from "../lib/versions";
import { admissionConfiguration, auditPolicy, kubeletSysctlConf } from "./hardening";
import { k3sAgentConfig, k3sServerConfig, registriesYaml, stableYaml } from "./k3s-config";
import { parseCredentials, PULUMI_ACCESS, pulumiAccessManifest, tokenKubeconfig } from "./kubeconfig";

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
  /** platform:k3sTokenRotated: a new value lets one token change through the guard (the cluster was rotated). */
  readonly tokenRotated?: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** A fingerprint of a secret for ChangeGuard: never the value, and not comparable across labels. */
export function secretFingerprint(label: string, value: string): string {
  return createHash("sha256").update(`${label}\n${value}`).digest("hex");
}

export const K3S_TOKEN_GUARD_MESSAGE = [
  "platform:k3sToken changed, but a running K3s cluster keeps the token it was started with (it also",
  "encrypts the cluster's bootstrap data) and agents joined with it, so a new value cannot simply be installed.",
  "Either put the old value back (`pulumi config set --secret platform:k3sToken <old>`, or `pulumi config rm",
  "platform:k3sToken` if it was generated), or rotate the cluster first: on the server run",
  "`sudo k3s token rotate --new-token <new>` (docs.k3s.io/cli/token), then let the stack accept the new value:",
  "`pulumi config set platform:k3sTokenRotated <a value not used before, e.g. today's date>` and `pulumi up`,",
  "which writes the new token to every node's K3s environment and restarts K3s, server first.",
].join(" ");

/** What the install writes before K3s starts (CIS hardening, cluster/hardening.ts): every node... */
const HARDENING_FILES = { SYSCTL_CONF_B64: b64(kubeletSysctlConf()) };
/** ...and servers: the admission configuration and the audit policy the API server is pointed at. */
const SERVER_HARDENING_FILES = {
  ADMISSION_CONFIG_B64: b64(stableYaml(admissionConfiguration())),
  AUDIT_POLICY_B64: b64(stableYaml(auditPolicy())),
};

const UNINSTALL = (script: string) =>
  `if [ -x /usr/local/bin/${script} ]; then sudo -n /usr/local/bin/${script}; else echo "K3s is not installed here; nothing to uninstall"; fi`;

export class K3s extends pulumi.ComponentResource {
  /** Kubeconfig for the stack: the cluster CA and the ServiceAccount token, server at the reachable address (secret). */
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly apiServer: pulumi.Output<string>;
  /**
   * What makes this cluster this cluster, for the provider's clusterIdentifier: the server's machine
   * (the OCI instance; a replaced instance boots an empty disk) and the K3s install on it (replaced
   * means uninstalled and installed again). Neither changes with the node's address.
   */
  public readonly clusterIdentifier: pulumi.Output<string>;
  /** The resource whose deletion takes the cluster and everything in it (deletedWith target). */
  public readonly cluster: pulumi.Resource;
  /** Installs whose reconciles (restarts included) must finish before anything talks to the API. */
  public readonly ready: pulumi.Resource[];

  constructor(name: string, args: K3sArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:cluster:K3s", name, {}, opts);
    const version = args.version ?? versions.k3s;
    if (!/^v1\.\d+\.\d+\+k3s\d+$/.test(version)) throw new Error(`K3s: version must look like v1.34.1+k3s1, got ${version}`);
    const script = readScript("cluster/scripts/install-k3s.sh");
    const registries = pulumi.output(args.registry.password).apply((password) =>
      b64(stableYaml(registriesYaml({ ...args.registry, password }))));

    // A new token cannot be installed on a live cluster: refuse it at preview, with what to do.
    const guard = new ChangeGuard(`${name}-token-guard`, {
      fingerprint: pulumi.secret(pulumi.output(args.token).apply((t) => secretFingerprint("platform:k3sToken", t))),
      message: K3S_TOKEN_GUARD_MESSAGE,
      ...(args.tokenRotated !== undefined ? { confirmation: args.tokenRotated } : {}),
    }, { parent: this });

    const server = args.server;
    const serverConfig = pulumi.all([server.publicAddress, server.privateAddress]).apply(([pub, priv]) =>
      b64(stableYaml(k3sServerConfig({
        tlsSans: [...new Set([pub, priv, ...(args.extraTlsSans ?? [])])],
        nodeCpus: server.cpus, nodeMemoryGb: server.memoryGb,
      }))));
    const serverInstall = new command.remote.Command(`${name}-server`, {
      connection: server.connection,
      create: RUN_STDIN_AS_ROOT,
      // Same command on update: the script reconciles files and the token, restarts only on change.
      update: RUN_STDIN_AS_ROOT,
      // The previous stdout would travel as SSH env vars, which sshd refuses by default (a warning per run).
      addPreviousOutputInEnv: false,
      stdin: scriptWithEnv(script, {
        K3S_ROLE: "server", K3S_VERSION: version, K3S_TOKEN: args.token,
        K3S_CONFIG_B64: serverConfig, REGISTRIES_B64: registries, ROLLOUTS_VERSION: versions.kubectlArgoRollouts,
        PULUMI_ACCESS_B64: b64(pulumiAccessManifest()), ...HARDENING_FILES, ...SERVER_HARDENING_FILES,
      }),
      delete: UNINSTALL("k3s-uninstall.sh"),
    }, {
      parent: this, dependsOn: [...server.ready, guard],
      // A replaced install is a new cluster: uninstall first, or the new install finds K3s and keeps it.
      deleteBeforeReplace: true,
      // When the machine itself goes (OCI), uninstalling over SSH first is wasted time, or fails.
      ...(server.machine ? { deletedWith: server.machine } : {}),
    });

    const serverUrl = pulumi.interpolate`https://${server.privateAddress}:6443`;
    const agents = (args.agents ?? []).map((agent) => new command.remote.Command(`${name}-${agent.name}`, {
      connection: agent.connection,
      create: RUN_STDIN_AS_ROOT,
      update: RUN_STDIN_AS_ROOT,
      addPreviousOutputInEnv: false,
      stdin: scriptWithEnv(script, {
        K3S_ROLE: "agent", K3S_VERSION: version, K3S_TOKEN: args.token, K3S_URL: serverUrl,
        K3S_CONFIG_B64: b64(stableYaml(k3sAgentConfig(agent.cpus, agent.memoryGb))), REGISTRIES_B64: registries,
        ...HARDENING_FILES,
      }),
      delete: UNINSTALL("k3s-agent-uninstall.sh"),
      // A new server (machine or install) is a new cluster with a new CA and URL: the install script
      // only reinstalls on a version change, so the agent is uninstalled and joined again.
      triggers: [server.machine ? server.machine.id : serverInstall.id, serverInstall.id],
    }, {
      parent: this, dependsOn: [...agent.ready, serverInstall, guard],
      deleteBeforeReplace: true,
      ...(agent.machine ? { deletedWith: agent.machine } : {}),
    }));

    this.clusterIdentifier = pulumi.interpolate`k3s:${server.machine ? server.machine.id : "host"}:${serverInstall.id}`;
    this.cluster = server.machine ?? serverInstall;
    this.ready = [serverInstall, ...agents];

    // Read once per cluster (triggers: its identity), not on every install change: the CA and the
    // token outlive reinstalls, upgrades and restarts. The latch keeps them known in previews when
    // the read re-runs only because the SSH address moved.
    const read = new command.remote.Command(`${name}-credentials`, {
      connection: server.connection,
      create: RUN_STDIN_AS_ROOT,
      addPreviousOutputInEnv: false,
      stdin: scriptWithEnv(readScript("cluster/scripts/read-credentials.sh"), {
        PULUMI_NAMESPACE: PULUMI_ACCESS.namespace, PULUMI_TOKEN_SECRET: PULUMI_ACCESS.secret,
      }),
      triggers: [this.clusterIdentifier],
      logging: "none",
    }, { parent: this, dependsOn: [serverInstall], additionalSecretOutputs: ["stdout"] });
    const credentials = new Latch(`${name}-credentials-pin`, { key: this.clusterIdentifier, value: read.stdout }, { parent: this });

    this.apiServer = pulumi.interpolate`https://${server.publicAddress}:6443`;
    this.kubeconfig = pulumi.secret(pulumi.all([credentials.value, this.apiServer])
      .apply(([creds, api]) => tokenKubeconfig({ name: "k3s", server: api, credentials: parseCredentials(creds) })));
    this.registerOutputs({ apiServer: this.apiServer, kubeconfig: this.kubeconfig, clusterIdentifier: this.clusterIdentifier });
  }
}
