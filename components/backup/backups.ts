// Scheduled backups off the node, with restic (encrypted, deduplicated, retention by forget), on the
// cluster: the backup namespace (K3s datastore job, rest-server), and in each data namespace its
// restic Secret (repository and credentials from store.ts), scripts, backup CronJob and suspended
// restore template (jobs.ts). Alert rules: alerts.ts, through the Prometheus values.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ClusterContext } from "../lib/context";
import { K8sObject, namespace } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { policiesIn } from "../traffic";
import {
  BACKUP_COMPONENTS, BackupComponent, backupCronJob, backupNamespaces, componentNamespace, RESTIC_SECRET, restoreCronJob, SCRIPTS_CONFIGMAP,
} from "./jobs";
import { restServerObjects } from "./rest-server";
import { BACKUP_NAMESPACE, BackupConfig } from "./settings";
import { BackupStore } from "./store";

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
  /** The repositories and their credentials (store.ts), registered outside the cluster's tree. */
  readonly store: BackupStore;
}

export class Backups extends pulumi.ComponentResource {
  /** The repository of each component (restic -r), e.g. for docs and outputs. */
  public readonly repositories: Record<BackupComponent, pulumi.Output<string>>;

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:backup:Backups", name, {}, opts);
    const { ctx, store } = args;
    const backup: BackupConfig | undefined = ctx.backup;
    if (!backup) throw new Error("Backups: ctx.backup is not set (the Platform passes config.ts's backup settings)");
    const target = backup.target;
    const reg = (obj: K8sObject, dependsOn: pulumi.Resource[] = []) => registerObject(obj, ctx.profile.overlays, { parent: this, dependsOn });
    if (target.kind === "host-path") {
      pulumi.log.warn(`backups go to ${target.path} on the server node (restic rest-server): that survives lost volumes, not a lost node, unless ${target.path} is a NAS or another disk; set platform:backupS3Endpoint to send them off the node`, this);
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
      for (const obj of restServerObjects(target, store.credentials.RESTIC_REST_PASSWORD, ctx.profile.size)) reg(obj, [nsRes, ...policies]);
    }

    const repositories = {} as Record<BackupComponent, pulumi.Output<string>>;
    for (const c of BACKUP_COMPONENTS) {
      const ns = componentNamespace(ctx, c);
      repositories[c] = store.repository(c);
      const secret = reg(resticSecret(ns, { RESTIC_REPOSITORY: repositories[c], RESTIC_PASSWORD: store.password, ...store.credentials }), inBackupNs(ns));
      const deps = [secret, configMaps.get(ns)!, ...inBackupNs(ns), store];
      reg(backupCronJob(ctx, backup, c), deps);
      reg(restoreCronJob(ctx, backup, c), deps);
    }
    this.repositories = repositories;
    this.registerOutputs({ repositories });
  }
}
