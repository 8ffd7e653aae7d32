// Composition only: host -> cluster -> one Kubernetes provider -> everything on the cluster.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { PlatformConfig } from "../config";
import { Plan } from "./plan";
import { OciHost } from "./host/oci-host";
import type { ResolvedInputs } from "./inputs";
import { BareMetalHost } from "./host/bare-metal-host";
import { HostNode } from "./host/node";
import { K3s, RegistryMirror } from "./cluster/k3s";
import { K3d } from "./cluster/k3d";
import { Endpoints, endpoints, REGISTRY_USER } from "./lib/endpoints";
import { platformSecrets, PlatformSecrets } from "./lib/secrets";
import { ClusterContext } from "./lib/context";
import { platformServices } from "./services";
import { trafficOptions } from "./traffic-options";

export interface PlatformArgs {
  readonly config: PlatformConfig;
  readonly plan: Plan;
  /** What the cloud answered before anything was registered (components/inputs.ts). */
  readonly inputs: ResolvedInputs;
}

export class Platform extends pulumi.ComponentResource {
  public readonly endpoints: Endpoints;
  public readonly secrets: PlatformSecrets;
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly apiServer: pulumi.Output<string>;
  public readonly provider: k8s.Provider;
  /** Public addresses of the nodes (oci, homelab); empty on dev. */
  public readonly nodeAddresses: pulumi.Output<string[]>;
  /** Gitea's admin user name (its password is in `secrets`). */
  public readonly giteaAdminUser: string;
  /** known_hosts lines of the nodes' pinned SSH host keys (oci, homelab). */
  public readonly sshHostKeys: pulumi.Output<string[]>;
  /** Private key generated for the OCI nodes (secret), when none was configured. */
  public readonly sshPrivateKey?: pulumi.Output<string>;
  /** The platform CA's certificate (PEM, public) when it signs the UIs' certificates. */
  public readonly platformCaCertificate?: pulumi.Output<string>;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:Platform", name, {}, opts);
    const cfg = args.config;
    this.secrets = platformSecrets(name, cfg.secrets, this);

    // Host.
    let nodes: HostNode[] = [];
    if (cfg.oci) {
      const host = new OciHost("oci", { ...cfg.oci, adminCidr: cfg.adminCidr!, imageId: args.inputs.oci!.imageId }, { parent: this });
      nodes = host.nodes;
      this.sshPrivateKey = host.generatedPrivateKey;
    } else if (cfg.homelab) {
      const server = args.plan.nodes[0];
      const host = new BareMetalHost("homelab", {
        address: cfg.homelab.hostAddress, user: cfg.homelab.sshUser, port: cfg.homelab.sshPort,
        privateKey: cfg.homelab.sshPrivateKey, hostKey: cfg.homelab.sshHostKey, adminCidr: cfg.adminCidr, cpus: server.cpus, memoryGb: server.memoryGb,
        // The host must really have (nearly) the memory the budget was checked against.
        minMemoryMb: Math.floor(server.memoryGb * 1024 * 0.9),
      }, { parent: this });
      nodes = host.nodes;
    }
    this.nodeAddresses = pulumi.all(nodes.map((n) => n.publicAddress));
    this.sshHostKeys = pulumi.all(nodes.map((n) => pulumi.all([n.publicAddress, n.connection.port, n.connection.hostKey])
      .apply(([address, port, key]) => `${port && port !== 22 ? `[${address}]:${port}` : address} ${key}`)));

    // Addresses (PM-40): job containers and nodes reach Gitea's NodePort on the server's private
    // address; on dev, on the k3d server container, whose name k3d adds to CoreDNS.
    const nodeAddress = nodes.length > 0 ? nodes[0].privateAddress : pulumi.output(`k3d-${cfg.dev!.clusterName}-server-0`);
    this.endpoints = endpoints({ environment: cfg.environment, domain: cfg.domain, nodeAddress, ports: args.plan.ports });
    const ep = this.endpoints;
    const registry: RegistryMirror = {
      host: ep.registry.host, endpoint: ep.registry.nodeMirror, username: REGISTRY_USER, password: this.secrets.registryPassword,
    };

    // Cluster.
    let cluster: K3s | K3d;
    if (cfg.profile.cluster === "k3s") {
      const [server, ...agents] = nodes;
      cluster = new K3s("k3s", {
        server, agents, token: this.secrets.k3sToken, registry, extraTlsSans: [`api.${cfg.domain}`],
        tokenRotated: cfg.k3sTokenRotated,
      }, { parent: this });
    } else {
      cluster = new K3d("k3d", {
        name: cfg.dev!.clusterName, httpPort: ep.hostPorts.ingressHttp, httpsPort: ep.hostPorts.ingressHttps,
        apiPort: ep.hostPorts.kubeApi, nodePorts: [ep.ports.giteaHttp, ep.ports.registry], registry,
      }, { parent: this });
    }
    this.kubeconfig = cluster.kubeconfig;
    this.apiServer = cluster.apiServer;

    // The one Kubernetes provider: never the ambient ~/.kube/config.
    this.provider = new k8s.Provider("k8s", {
      kubeconfig: this.kubeconfig,
      // Only a new cluster replaces the provider (and with it every object on it, PVCs included);
      // a new address for the same cluster is an update. cluster/k3s.ts and k3d.ts say what the
      // identity is made of.
      clusterIdentifier: cluster.clusterIdentifier,
      enableServerSideApply: true,
      // Off unless platform:deleteUnreachable: a refresh while the API cannot be reached (a new IP
      // outside adminCidr, Docker stopped) must fail, not forget every object. Left unset when off,
      // so the provider's own one-off escape (PULUMI_K8S_DELETE_UNREACHABLE=true pulumi refresh,
      // which it suggests in its error) still works for a cluster that is really gone.
      ...(cfg.deleteUnreachable ? { deleteUnreachable: true } : {}),
      // A rotated credential updates its Secret in place (server-side apply) instead of delete +
      // create, which would drop keys other managers added (Argo CD's server.secretkey) and briefly
      // leave consumers without it. Same for ConfigMaps.
      enableSecretMutable: true,
      enableConfigMapMutable: true,
    }, { parent: this, dependsOn: cluster.ready });

    // Everything on the cluster goes with it: on destroy its objects are not deleted one by one
    // first (slow, and impossible once the API is gone). Set on each component; the engine gives it
    // to their children, chart-rendered ones included (pulumi/pulumi#12572, resmon inheritFromParent).
    // A *replacement* of the cluster resource still deletes them through the API first in released
    // engines (<= 3.260; fixed by pulumi/pulumi#23818, unreleased): see README "Replace a node".
    const inCluster = { parent: this, providers: [this.provider], deletedWith: cluster.cluster };
    // The traffic plan's address inputs (node range, API server, NodePort clients) from config.
    const traffic = trafficOptions({ environment: cfg.environment, hostAddress: cfg.homelab?.hostAddress });
    const ctx: ClusterContext = { environment: cfg.environment, profile: cfg.profile, endpoints: ep, backup: cfg.backup, tls: cfg.tls, traffic };
    const services = platformServices(ctx, this.secrets, inCluster);
    this.giteaAdminUser = services.gitea.adminUser;
    this.platformCaCertificate = services.tls.caCertificate;

    this.registerOutputs({ kubeconfig: this.kubeconfig, apiServer: this.apiServer });
  }
}
