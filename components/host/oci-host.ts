// ARM64 Ampere A1 instance(s) on Oracle Cloud, sized to the Always Free tier by default.
import * as pulumi from "@pulumi/pulumi";
import * as oci from "@pulumi/oci";
import * as tls from "@pulumi/tls";
import * as command from "@pulumi/command";
import { ChangeGuard } from "../lib/guard";
import { OCI_SUBNET_CIDR, OCI_VCN_CIDR } from "../lib/network";
import { RUN_STDIN, RUN_STDIN_AS_ROOT } from "../lib/scripts";
import { cloudInit, FIREWALL_UDP_PORTS, ociFirewallScript } from "./cloud-init";
import { HostNode, SSH_DIAL } from "./node";
import { instanceFingerprint, nodeLossMessage, placementFingerprint } from "./node-replacement";
import { adoptionKey, authorizedKeysScript, launchAuthorizedKeys } from "./ssh-keys";
import { hostKeyLine, hostKeyScript, launchHostKey } from "./host-keys";

export const A1_SHAPE = "VM.Standard.A1.Flex";

export interface OciHostArgs {
  readonly compartmentId: string;
  /** The one CIDR allowed to reach SSH (22) and the Kubernetes API (6443). */
  readonly adminCidr: string;
  /** OCPUs per node. @default 2 */
  readonly ocpus: number;
  /** Memory per node in GB. @default 12 */
  readonly memoryGb: number;
  /** One K3s server, the rest agents. @default 1 */
  readonly nodeCount: number;
  readonly bootVolumeGb: number;
  /**
   * The image new instances launch from: the newest Ubuntu image for the A1 shape, looked up before
   * any resource (components/inputs.ts). Platform images rotate: a running node ignores a newer id.
   */
  readonly imageId: string;
  readonly availabilityDomainIndex: number;
  /**
   * The user's own key, authorized next to the stack's; may change at any time. When absent, the
   * stack's private key is exported (generatedPrivateKey) so that the user can log in.
   */
  readonly sshPublicKey?: string;
  /**
   * The private half of sshPublicKey. Only used, once per node, to authorize the stack's key on a
   * node launched with sshPublicKey alone (before the stack connected with a key of its own).
   */
  readonly sshPrivateKey?: pulumi.Input<string>;
  /** platform:replaceNode: a value not used before confirms that the nodes may be replaced (and their disks lost). */
  readonly replaceNode?: string;
  /** @default "10.0.0.0/16" */
  readonly vcnCidr?: string;
  /** @default "10.0.1.0/24" */
  readonly subnetCidr?: string;
}

type Rule = oci.types.input.Core.SecurityListIngressSecurityRule;

const TCP = "6";
const UDP = "17";
const ICMP = "1";

/** 80/443 from anywhere; 22 and 6443 from adminCidr only; K3s node-to-node ports inside the VCN. */
export function ingressRules(adminCidr: string, vcnCidr: string): Rule[] {
  const tcp = (source: string, min: number, max: number, description: string): Rule => ({
    protocol: TCP, source, description, tcpOptions: { min, max },
  });
  const udp = (source: string, min: number, max: number, description: string): Rule => ({
    protocol: UDP, source, description, udpOptions: { min, max },
  });
  const [flannel, wgMin, wgMax] = [FIREWALL_UDP_PORTS[0], FIREWALL_UDP_PORTS[1], FIREWALL_UDP_PORTS[2]];
  return [
    tcp("0.0.0.0/0", 80, 80, "HTTP to the Istio ingress gateway"),
    tcp("0.0.0.0/0", 443, 443, "HTTPS to the Istio ingress gateway"),
    tcp(adminCidr, 22, 22, "SSH from the admin CIDR only"),
    tcp(adminCidr, 6443, 6443, "Kubernetes API from the admin CIDR only"),
    tcp(vcnCidr, 6443, 6443, "Kubernetes API from agents"),
    tcp(vcnCidr, 10250, 10250, "kubelet metrics and exec between nodes"),
    tcp(vcnCidr, 30000, 32767, "NodePorts between nodes (registry mirror, Gitea for the runner)"),
    udp(vcnCidr, flannel, flannel, "flannel VXLAN"),
    udp(vcnCidr, wgMin, wgMax, "flannel WireGuard"),
    { protocol: ICMP, source: "0.0.0.0/0", description: "path MTU discovery", icmpOptions: { type: 3, code: 4 } },
  ];
}

export class OciHost extends pulumi.ComponentResource {
  public readonly nodes: HostNode[];
  /** The stack's own SSH private key (secret), exported when the user supplied no key of their own. */
  public readonly generatedPrivateKey?: pulumi.Output<string>;
  public readonly publicIps: pulumi.Output<string[]>;

  constructor(name: string, args: OciHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:host:OciHost", name, {}, opts);
    const vcnCidr = args.vcnCidr ?? OCI_VCN_CIDR;
    const subnetCidr = args.subnetCidr ?? OCI_SUBNET_CIDR;
    const compartmentId = args.compartmentId;

    // The stack's own key: Pulumi connects with it for the nodes' whole life (ssh-keys.ts says why).
    const stackKey = new tls.PrivateKey(`${name}-ssh`, { algorithm: "ED25519" }, { parent: this });
    const stackPublicKey = stackKey.publicKeyOpenssh;
    const privateKey = pulumi.secret(stackKey.privateKeyOpenssh);
    if (!args.sshPublicKey) this.generatedPrivateKey = pulumi.secret(stackKey.privateKeyOpenssh);
    const launchKeys = stackPublicKey.apply((pub) => launchAuthorizedKeys(pub, args.sshPublicKey));

    const vcn = new oci.core.Vcn(`${name}-vcn`, {
      compartmentId, cidrBlocks: [vcnCidr], displayName: `${name}-vcn`, dnsLabel: "platform",
    }, { parent: this });
    const igw = new oci.core.InternetGateway(`${name}-igw`, {
      compartmentId, vcnId: vcn.id, enabled: true, displayName: `${name}-igw`,
    }, { parent: this });
    const routes = new oci.core.RouteTable(`${name}-routes`, {
      compartmentId, vcnId: vcn.id, displayName: `${name}-routes`,
      routeRules: [{ destination: "0.0.0.0/0", destinationType: "CIDR_BLOCK", networkEntityId: igw.id }],
    }, { parent: this });
    const securityList = new oci.core.SecurityList(`${name}-security`, {
      compartmentId, vcnId: vcn.id, displayName: `${name}-security`,
      ingressSecurityRules: ingressRules(args.adminCidr, vcnCidr),
      egressSecurityRules: [{ protocol: "all", destination: "0.0.0.0/0", description: "all egress" }],
    }, { parent: this });
    const subnet = new oci.core.Subnet(`${name}-subnet`, {
      compartmentId, vcnId: vcn.id, cidrBlock: subnetCidr, displayName: `${name}-subnet`, dnsLabel: "nodes",
      routeTableId: routes.id, securityListIds: [securityList.id], prohibitPublicIpOnVnic: false,
    }, { parent: this });

    const ads = oci.identity.getAvailabilityDomainsOutput({ compartmentId }, { parent: this });
    const availabilityDomain = ads.availabilityDomains.apply((list) => {
      const ad = list[args.availabilityDomainIndex];
      if (!ad) throw new Error(`platform:availabilityDomainIndex: ${args.availabilityDomainIndex} is out of range; this region has ${list.length} availability domain(s)`);
      return ad.name;
    });
    this.nodes = [];
    const ips: pulumi.Output<string>[] = [];
    let server: oci.core.Instance | undefined;
    for (let i = 0; i < args.nodeCount; i++) {
      const nodeName = i === 0 ? "server-0" : `agent-${i}`;
      const displayName = `${name}-${nodeName}`;
      // The node's SSH host key, owned by the stack: cloud-init installs it, every connection pins it (host-keys.ts).
      const hostKey = new tls.PrivateKey(`${name}-${nodeName}-host-key`, { algorithm: "ED25519" }, { parent: this });
      const pinnedHostKey = hostKey.publicKeyOpenssh.apply(hostKeyLine);
      const userData = pulumi.secret(pulumi.all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
        .apply(([privateKeyOpenssh, publicKeyOpenssh]) =>
          Buffer.from(cloudInit({ vcnCidr, hostKey: { privateKeyOpenssh, publicKeyOpenssh } }), "utf8").toString("base64")));
      // Refused before the instance is touched, even under `pulumi up --skip-preview`.
      const placement = new ChangeGuard(`${name}-${nodeName}-placement`, {
        fingerprint: pulumi.secret(availabilityDomain.apply(placementFingerprint)),
        message: nodeLossMessage({
          node: nodeName, instance: displayName,
          cause: `platform:availabilityDomainIndex ${args.availabilityDomainIndex} is another availability domain, and an instance cannot move`,
        }),
        confirmation: args.replaceNode,
      }, { parent: this });
      const instance = new oci.core.Instance(displayName, {
        compartmentId, availabilityDomain, shape: A1_SHAPE, displayName,
        shapeConfig: { ocpus: args.ocpus, memoryInGbs: args.memoryGb },
        sourceDetails: { sourceType: "image", sourceId: args.imageId, bootVolumeSizeInGbs: String(args.bootVolumeGb) },
        createVnicDetails: { subnetId: subnet.id, assignPublicIp: "true", hostnameLabel: nodeName },
        metadata: { ssh_authorized_keys: launchKeys, user_data: userData },
      }, {
        parent: this,
        // Delete first: old and new side by side would need twice the Always Free allowance, and
        // the new VNIC's hostname label must be unique in the subnet. node-replacement.ts says what is lost.
        deleteBeforeReplace: true,
        // Agents after the server: a split (one 2/12 into two 1/6) shrinks the server before an agent starts.
        dependsOn: server ? [placement, server] : [placement],
        // ssh_authorized_keys and user_data are read only at launch (a changed key is installed by
        // the ssh-keys command instead); the image id rotates, and a new one would swap the boot
        // volume in place. None of them may silently replace or wipe a running node. To roll a node
        // on purpose: set a new platform:replaceNode, then
        //   pulumi up --replace 'urn:…:oci:core/instance:Instance::<name>'
        ignoreChanges: ["metadata", "sourceDetails.sourceId"],
      });
      server ??= instance;
      // A preview cannot know the id of an instance being replaced, whatever the reason: refused there.
      const identity = new ChangeGuard(`${name}-${nodeName}-instance`, {
        fingerprint: pulumi.secret(instance.id.apply(instanceFingerprint)),
        message: nodeLossMessage({
          node: nodeName, instance: displayName,
          cause: "an input OCI cannot change in place differs, or `pulumi up --replace` asked for it",
        }),
        confirmation: args.replaceNode,
      }, { parent: this });
      const connection = { host: instance.publicIp, user: "ubuntu", privateKey, hostKey: pinnedHostKey, ...SSH_DIAL };
      // The key cloud-init installed at launch (user_data is fixed at launch). A node an older program
      // launched has none: the host-key command below connects unpinned, once, as every run did
      // before, and installs the stack's key; every later connection is pinned. undefined leaves
      // hostKey out of the connection.
      const launchPin = instance.metadata.apply((m) => launchHostKey(m?.user_data)) as pulumi.Output<string>;
      const launchConnection = { ...connection, hostKey: launchPin };
      const keysScript = authorizedKeysScript(stackPublicKey, args.sshPublicKey);
      // A node an older program launched with the user's key alone learns the stack's key once, over
      // the user's; the key it was launched with is in the instance's metadata (fixed at launch). Never
      // re-run: a rotated user key is not trusted yet, and a new node has the stack's key.
      const adopt: command.remote.Command[] = [];
      if (args.sshPublicKey) {
        const userPublicKey = args.sshPublicKey;
        const adoptKey = pulumi.all([instance.metadata, stackPublicKey, privateKey, pulumi.output(args.sshPrivateKey)])
          .apply(([metadata, publicKey, stackPrivate, userPrivate]) => {
            const chosen = adoptionKey(displayName, metadata?.ssh_authorized_keys ?? "", { publicKey, privateKey: stackPrivate }, userPublicKey, userPrivate);
            if (chosen.warning) void pulumi.log.warn(chosen.warning, this);
            return chosen.privateKey;
          });
        adopt.push(new command.remote.Command(`${name}-${nodeName}-stack-key`, {
          connection: { ...launchConnection, privateKey: pulumi.secret(adoptKey) },
          create: RUN_STDIN, stdin: keysScript, addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: [instance, identity], ignoreChanges: ["connection", "stdin"] }));
      }
      // Installs the stack's host key where cloud-init did not (older nodes), or finds it there. Never
      // re-run (README "SSH host keys (pinned)" for a rotation): pinned to the launch key when there is one.
      const hostKeyInstall = new command.remote.Command(`${name}-${nodeName}-host-key`, {
        connection: launchConnection,
        create: RUN_STDIN_AS_ROOT, stdin: hostKeyScript(hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh), addPreviousOutputInEnv: false,
      }, { parent: this, dependsOn: [instance, identity, ...adopt], ignoreChanges: ["connection", "stdin"] });
      // K3s must not start before cloud-init has opened the firewall.
      const cloudInitDone = new command.remote.Command(`${name}-${nodeName}-cloud-init`, {
        connection,
        // Exit 2 is "done, with deprecation warnings" (cloud-init 23.4+): fine for us.
        create: "cloud-init status --wait --long || test $? -eq 2",
      }, { parent: this, dependsOn: [instance, identity, ...adopt, hostKeyInstall] });
      // cloud-init's firewall again, over the pinned connection and before K3s: nodes launched before a
      // change to oci-firewall.sh or its inputs get it here (user_data is read only at launch). The
      // script is idempotent; a changed stdin re-runs it in place, the same stdin does not.
      const firewall = new command.remote.Command(`${name}-${nodeName}-firewall`, {
        connection, create: RUN_STDIN_AS_ROOT, update: RUN_STDIN_AS_ROOT,
        stdin: ociFirewallScript({ vcnCidr }), addPreviousOutputInEnv: false,
      }, { parent: this, dependsOn: [cloudInitDone] });
      // The user's key, swapped in place when platform:sshPublicKey changes.
      const keys = new command.remote.Command(`${name}-${nodeName}-ssh-keys`, {
        connection, create: RUN_STDIN, update: RUN_STDIN, stdin: keysScript, addPreviousOutputInEnv: false,
      }, { parent: this, dependsOn: [cloudInitDone] });
      ips.push(instance.publicIp);
      this.nodes.push({
        name: nodeName, connection, publicAddress: instance.publicIp, privateAddress: instance.privateIp,
        cpus: args.ocpus, memoryGb: args.memoryGb, ready: [cloudInitDone, firewall, keys], machine: instance,
      });
    }
    this.publicIps = pulumi.all(ips);
    this.registerOutputs({ publicIps: this.publicIps });
  }
}
