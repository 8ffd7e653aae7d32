// Gitea: the official chart (values from giteaValues), its admin Secret, our own
// NodePort Service `gitea-http` (the ClusterIP the runner's --add-host needs, PM-01), and the
// namespace's NetworkPolicies from the traffic plan.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace, service } from "../lib/k8s";
import { overlayChartValues } from "../lib/overlays";
import { registerObject } from "../lib/objects";
import { sizeOf } from "../lib/sizes";
import { pinnedChart } from "../lib/charts";
import { charts } from "../lib/versions";
import { clusterFingerprint } from "../lib/secrets";
import {
  GITEA_ADMIN_SECRET, GITEA_ADMIN_USER, GITEA_HTTP_PORT, GITEA_RELEASE,
  GITEA_SELECTOR, GITEA_SERVICE_ACCOUNT, GITEA_SSH_PORT, giteaValues,
} from "./gitea-values";
import { policiesIn } from "../traffic";

export interface GiteaArgs {
  readonly ctx: ClusterContext;
  /** Admin password (secret), from platform:giteaAdminPassword or generated (PM-09). */
  readonly adminPassword: pulumi.Input<string>;
  /** Key of the admin password's fingerprint on the pod (PlatformSecrets.fingerprintKey): a rotation rolls the pod. */
  readonly fingerprintKey: pulumi.Input<string>;
  /** Admin e-mail. @default `${GITEA_ADMIN_USER}@<domain>` */
  readonly adminEmail?: string;
  /** PVC size for repositories and SQLite. @default "10Gi" */
  readonly storageSize?: string;
  /** Anonymous users see nothing; Argo CD then needs repository credentials. @default true */
  readonly requireSigninView?: boolean;
}

/** Our Service: NodePort with a real ClusterIP, selecting the chart's pods by their selector labels. */
export function giteaHttpService(ctx: ClusterContext): K8sObject {
  const ep = ctx.endpoints;
  return service({
    name: ep.gitea.service,
    namespace: ep.gitea.namespace,
    selector: { ...GITEA_SELECTOR },
    labels: { "app.kubernetes.io/name": "gitea", "app.kubernetes.io/component": "http" },
    ports: [{ name: "http", containerPort: GITEA_HTTP_PORT }, { name: "ssh", containerPort: GITEA_SSH_PORT }],
    servicePorts: { http: ep.gitea.port, ssh: 22 },
    type: "NodePort",
    nodePorts: { http: ep.ports.giteaHttp, ssh: ep.ports.giteaSsh },
  });
}

/** The pod's ServiceAccount, without a token: the chart would not turn automount off (see GITEA_SERVICE_ACCOUNT). */
export function giteaServiceAccount(ctx: ClusterContext): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: GITEA_SERVICE_ACCOUNT, namespace: ctx.endpoints.gitea.namespace, labels: { "app.kubernetes.io/name": "gitea" } },
    automountServiceAccountToken: false,
  };
}

export class Gitea extends pulumi.ComponentResource {
  public readonly namespace: string;
  /** Our NodePort Service `gitea-http` (not the chart's headless one). */
  public readonly httpService: k8s.core.v1.Service;
  /** Its ClusterIP, for the runner's --add-host (PM-01). */
  public readonly clusterIP: pulumi.Output<string>;
  public readonly adminUser: string;
  /** Secret output (PM-09). */
  public readonly adminPassword: pulumi.Output<string>;
  public readonly chart: k8s.helm.v4.Chart;

  constructor(name: string, args: GiteaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:gitops:Gitea", name, {}, opts);
    const { ctx } = args;
    const ep = ctx.endpoints;
    const ns = ep.gitea.namespace;
    const values = giteaValues({
      publicUrl: ep.gitea.publicUrl,
      domain: ep.hostnames.git,
      sshPort: ep.ports.giteaSsh,
      resources: sizeOf(ctx.profile.size, "gitea"),
      adminEmail: args.adminEmail ?? `${GITEA_ADMIN_USER}@${ep.domain}`,
      storageSize: args.storageSize,
      requireSigninView: args.requireSigninView,
      adminPasswordChecksum: clusterFingerprint(args.fingerprintKey, "gitea-admin-password", args.adminPassword),
    });
    const reg = (obj: K8sObject, dependsOn: pulumi.Resource[] = []) => registerObject(obj, ctx.profile.overlays, { parent: this, dependsOn });

    // The rootless image runs as uid 1000 without privileges: restricted fits (values set every
    // container's securityContext, init containers included).
    const nsRes = reg(namespace({ name: ns, podSecurity: "restricted" }));
    // Gitea's and the bootstrap Job's flows (traffic.ts): this component owns the namespace.
    for (const np of policiesIn(ctx, ns)) reg(np, [nsRes]);

    this.adminPassword = pulumi.secret(args.adminPassword);
    const adminSecret = reg({
      apiVersion: "v1", kind: "Secret", type: "Opaque",
      metadata: { name: GITEA_ADMIN_SECRET, namespace: ns },
      stringData: { username: GITEA_ADMIN_USER, password: this.adminPassword },
    }, [nsRes]);
    const serviceAccount = reg(giteaServiceAccount(ctx), [nsRes]);
    this.chart = pinnedChart(name, charts.gitea, {
      release: GITEA_RELEASE,
      namespace: ns,
      // PM-21 on dev: the chart's pod securityContext (fsGroup) is dropped like our own PVC workloads'.
      values: overlayChartValues(values, ctx.profile.overlays, [["podSecurityContext"]]),
    }, { parent: this, dependsOn: [nsRes, adminSecret, serviceAccount] });

    this.httpService = reg(giteaHttpService(ctx), [nsRes]) as k8s.core.v1.Service;
    this.clusterIP = this.httpService.spec.clusterIP;
    this.namespace = ns;
    this.adminUser = GITEA_ADMIN_USER;
    this.registerOutputs({ namespace: ns, clusterIP: this.clusterIP, adminUser: this.adminUser, adminPassword: this.adminPassword });
  }
}
