// Scheduled backups off the node, with restic (encrypted, deduplicated, retention by forget): the
// repository per component (where it lives and its credentials, per target), the backup namespace
// (K3s datastore job, rest-server), and in each data namespace its Secret, scripts, backup CronJob
// and suspended restore template (jobs.ts). Alert rules: alerts.ts, through the Prometheus values.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as oci from "@pulumi/oci";
import * as random from "@pulumi/random";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { policiesIn } from "../traffic";
import {
  BACKUP_COMPONENTS, BackupComponent, backupCronJob, backupNamespaces, componentNamespace, RESTIC_SECRET, restoreCronJob, SCRIPTS_CONFIGMAP,
} from "./jobs";
import { restRepository, restServerObjects } from "./rest-server";
import { BACKUP_NAMESPACE, BackupConfig, ociS3Endpoint, REST_SERVER } from "./settings";

const SCRIPTS = path.join(__dirname, "scripts");

/** Every script the jobs mount at /scripts, file name -> text, sorted (deterministic ConfigMap). */
export function backupScripts(dir: string = SCRIPTS): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).filter((n) => /\.(sh|py)$/.test(n)).sort()) out[f] = fs.readFileSync(path.join(dir, f), "utf8");
  return out;
}

/** One namespace's restic Secret: repository, password and the target's credentials, all secret. */
export function resticSecret(ns: string, values: Record<string, pulumi.Input<string>>): K8sObject {
  const stringData = Object.fromEntries(Object.keys(values).sort().map((k) => [k, pulumi.secret(values[k])]));
  return { apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: RESTIC_SECRET, namespace: ns, labels: { "app.kubernetes.io/part-of": "platform-backup" } }, stringData };
}

export interface BackupsArgs {
  /** ctx.backup says where and how long (config.ts parseBackup). */
  readonly ctx: ClusterContext;
}

export class Backups extends pulumi.ComponentResource {
  /** The repository of each component (restic -r), e.g. for docs and outputs. */
  public readonly repositories: Record<BackupComponent, pulumi.Output<string>>;
  /** The OCI bucket, on the oci-bucket target. */
  public readonly bucket?: oci.objectstorage.Bucket;

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:backup:Backups", name, {}, opts);
    const { ctx } = args;
    const backup: BackupConfig | undefined = ctx.backup;
    if (!backup) throw new Error("Backups: ctx.backup is not set (the Platform passes config.ts's backup settings)");
    const reg = (obj: K8sObject, dependsOn: pulumi.Resource[] = []) => registerObject(obj, ctx.profile.overlays, { parent: this, dependsOn });
    const generated = (suffix: string) => new random.RandomPassword(`${name}-${suffix}`, {
      length: 48, special: false, minUpper: 2, minLower: 2, minNumeric: 2,
    }, { parent: this }).result;
    // The key to every snapshot: without it nothing restores. Set platform:backupPassword to keep a copy outside the stack.
    const password = pulumi.secret(backup.password ?? generated("restic-password"));

    let repository: (c: BackupComponent) => pulumi.Output<string>;
    let credentials: Record<string, pulumi.Input<string>>;
    const target = backup.target;
    switch (target.kind) {
      case "oci-bucket": {
        const ns = oci.objectstorage.getNamespaceOutput({ compartmentId: target.compartmentId }, { parent: this }).namespace;
        // retainOnDelete: the backups outlive the stack (`pulumi destroy` leaves the bucket; docs/restore.md imports it back).
        this.bucket = new oci.objectstorage.Bucket(`${name}-bucket`, {
          compartmentId: target.compartmentId, namespace: ns, name: target.bucket,
          accessType: "NoPublicAccess", storageTier: "Standard", versioning: "Disabled",
          freeformTags: { "platform-stack": backup.host },
        }, { parent: this, retainOnDelete: true });
        // S3 compatibility needs a Customer Secret Key: id is the access key, key the secret (shown once).
        const key = new oci.identity.CustomerSecretKey(`${name}-s3-key`, {
          userId: target.userOcid, displayName: `platform backups (${backup.host})`,
        }, { parent: this, additionalSecretOutputs: ["key"] });
        const bucket = this.bucket.name;
        repository = (c) => pulumi.interpolate`s3:${ns.apply((n) => ociS3Endpoint(n, target.region))}/${bucket}/${c}`;
        credentials = { AWS_ACCESS_KEY_ID: key.id, AWS_SECRET_ACCESS_KEY: key.key, AWS_DEFAULT_REGION: target.region };
        break;
      }
      case "s3":
        repository = (c) => pulumi.output(`s3:${target.endpoint}/${target.bucket}/${target.prefix}/${c}`);
        credentials = { AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: target.region };
        break;
      case "host-path": {
        repository = (c) => pulumi.output(restRepository(c));
        const restPassword = pulumi.secret(generated("rest-password"));
        credentials = { RESTIC_REST_USERNAME: REST_SERVER.user, RESTIC_REST_PASSWORD: restPassword };
        pulumi.log.warn(`backups go to ${target.path} on the server node (restic rest-server): that survives lost volumes, not a lost node, unless ${target.path} is a NAS or another disk; set platform:backupS3Endpoint to send them off the node`, this);
        break;
      }
    }

    // The backup namespace: the K3s datastore job mounts host paths, which only "privileged" admits.
    const nsRes = reg(namespace({ name: BACKUP_NAMESPACE, podSecurity: "privileged" }));
    const policies = policiesIn(ctx, BACKUP_NAMESPACE).map((np) => reg(np, [nsRes]));
    const inBackupNs = (ns: string) => (ns === BACKUP_NAMESPACE ? [nsRes, ...policies] : []);

    const scripts = backupScripts();
    const configMaps = new Map<string, pulumi.Resource>();
    for (const ns of backupNamespaces(ctx)) {
      configMaps.set(ns, reg({
        apiVersion: "v1", kind: "ConfigMap",
        metadata: { name: SCRIPTS_CONFIGMAP, namespace: ns, labels: { "app.kubernetes.io/part-of": "platform-backup" } },
        data: { ...scripts },
      }, inBackupNs(ns)));
    }

    if (target.kind === "host-path") {
      const restPassword = credentials.RESTIC_REST_PASSWORD;
      for (const obj of restServerObjects(target, restPassword, ctx.profile.size)) reg(obj, [nsRes, ...policies]);
    }

    const repositories = {} as Record<BackupComponent, pulumi.Output<string>>;
    for (const c of BACKUP_COMPONENTS) {
      const ns = componentNamespace(ctx, c);
      repositories[c] = repository(c);
      const secret = reg(resticSecret(ns, { RESTIC_REPOSITORY: repositories[c], RESTIC_PASSWORD: password, ...credentials }), inBackupNs(ns));
      const deps = [secret, configMaps.get(ns)!, ...inBackupNs(ns), ...(this.bucket ? [this.bucket] : [])];
      reg(backupCronJob(ctx, backup, c), deps);
      reg(restoreCronJob(ctx, backup, c), deps);
    }
    this.repositories = repositories;
    this.registerOutputs({ repositories });
  }
}
