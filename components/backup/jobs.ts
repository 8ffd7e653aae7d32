// Pure builders of the backup and restore CronJobs, one pair per component, each in the namespace
// of the data it reads (a PersistentVolumeClaim is only mountable there): Gitea (gitea dump +
// a consistent SQLite copy), the registry's storage, the sample app's PostgreSQL (pg_dump over the
// mesh) and the K3s datastore (hostPath on the server). Every pod ends in the restic container
// (backup.sh). Restore CronJobs are suspended templates: scripts/ops/restore.sh runs them with
// `kubectl create job --from=cronjob/restore-<component>`, so what restores is rendered, typed and
// tested here like what backs up.
import { checkImage, K8sObject, pullPolicyFor } from "../lib/k8s";
import { ContainerKey, SizeClass, sizeOf } from "../lib/sizes";
import { images } from "../lib/versions";
import { ClusterContext } from "../lib/context";
import { GITEA_UID } from "../gitops/gitea-values";
import { REGISTRY_DATA_CLAIM } from "../gitops/registry";
import { SAMPLE_APP_NAMESPACE, sampleDatabase } from "../apps/sample-app";
import { POSTGRES_UID } from "../apps/database";
import { BACKUP_NAMESPACE, BackupConfig } from "./settings";

export type BackupComponent = "gitea" | "registry" | "postgres" | "k3s";
export const BACKUP_COMPONENTS: readonly BackupComponent[] = ["gitea", "registry", "postgres", "k3s"];

/** Gitea's volume (helm-gitea values.yaml persistence.claimName). */
export const GITEA_CLAIM = "gitea-shared-storage";
/** The rootless image the chart runs (image.rootless appends the suffix), so dump and server agree. */
export const GITEA_ROOTLESS_IMAGE = images.gitea;
/** K3s's server directory on the node (docs.k3s.io: db/ and token are what to back up). */
export const K3S_SERVER_DIR = "/var/lib/rancher/k3s/server";

/** restic credentials and repository of one namespace's component (stack-created, never in Git). */
export const RESTIC_SECRET = "backup-restic";
/** Every script of components/backup/scripts, mounted at /scripts. */
export const SCRIPTS_CONFIGMAP = "backup-scripts";
/** Optional ConfigMap restore.sh writes to pick a snapshot other than the latest (key SNAPSHOT). */
export const RESTORE_CONFIGMAP = "backup-restore";
export const SCRIPTS_DIR = "/scripts";

/** Hourly slots, one component each, with deadlines shorter than a slot: at most one backup pod runs at a time. */
export const SCHEDULES: Readonly<Record<BackupComponent, string>> = {
  gitea: "0 1 * * *",
  registry: "0 2 * * *",
  postgres: "0 3 * * *",
  k3s: "0 4 * * *",
};
/** A late start (node down at the slot) may begin within this window, or is skipped. */
export const STARTING_DEADLINE_SECONDS = 600;
/** The Job, retries included, is killed after this, before the next slot (SCHEDULES). */
export const ACTIVE_DEADLINE_SECONDS = 2700;
/** The alert rules: a run that started this long ago and has not succeeded has failed. */
export const RUN_DEADLINE_SECONDS = STARTING_DEADLINE_SECONDS + ACTIVE_DEADLINE_SECONDS;
/** Daily schedule plus one run's deadline and an hour of slack: older than this, the backup is stale. */
export const MAX_AGE_SECONDS = 24 * 3600 + RUN_DEADLINE_SECONDS + 3600;

/** A schedule that never fires (February 31st), for the suspended restore templates. */
const NEVER = "0 0 31 2 *";

/** Labels of every backup and restore pod; the traffic plan selects them per namespace by this. */
export const BACKUP_POD_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/part-of": "platform-backup" };

export const backupJobName = (c: BackupComponent) => `backup-${c}`;
export const restoreJobName = (c: BackupComponent) => `restore-${c}`;

/** Namespace each component's jobs run in: where its data is. */
export function componentNamespace(ctx: ClusterContext, c: BackupComponent): string {
  switch (c) {
    case "gitea": return ctx.endpoints.gitea.namespace;
    case "registry": return ctx.endpoints.registry.namespace;
    case "postgres": return SAMPLE_APP_NAMESPACE;
    case "k3s": return BACKUP_NAMESPACE;
  }
}

/** The namespaces that hold backup CronJobs (kube-state-metrics must watch each, or the alerts go blind). */
export function backupNamespaces(ctx: ClusterContext): string[] {
  return [...new Set(BACKUP_COMPONENTS.map((c) => componentNamespace(ctx, c)))].sort();
}

/** What each backup pod runs, in order: init containers produce, the last (restic) uploads. */
interface Step {
  readonly name: string;
  readonly image: string;
  readonly size: ContainerKey;
  readonly command: readonly string[];
  readonly uid: number;
  readonly mounts: readonly Record<string, unknown>[];
  readonly env?: readonly Record<string, unknown>[];
  readonly envFrom?: readonly Record<string, unknown>[];
}

interface PodPlan {
  readonly init: readonly Step[];
  readonly main: Step;
  readonly volumes: readonly Record<string, unknown>[];
  /** The pod joins the mesh (Istio's native sidecar): the sample database takes mTLS only. */
  readonly meshed?: boolean;
  /** Runs on the K3s server (hostPath). */
  readonly onServer?: boolean;
}

const mount = (name: string, mountPath: string, readOnly = false) => ({ name, mountPath, ...(readOnly ? { readOnly: true } : {}) });
const SCRIPTS = mount("scripts", SCRIPTS_DIR, true);
const CACHE = mount("cache", "/cache");
const env = (name: string, value: string) => ({ name, value });

function resticEnv(backup: BackupConfig, c: BackupComponent): Record<string, unknown>[] {
  const out = [
    env("BACKUP_HOST", backup.host), env("BACKUP_TAG", c),
    env("KEEP_DAILY", String(backup.retention.daily)), env("KEEP_WEEKLY", String(backup.retention.weekly)), env("KEEP_MONTHLY", String(backup.retention.monthly)),
    // restic's cache and temporary files on a volume: the root filesystem is read-only.
    env("RESTIC_CACHE_DIR", "/cache/restic"), env("TMPDIR", "/cache"),
  ];
  // OCI's S3 compatibility API takes path-style requests (bucket in the path, not the host name).
  if (backup.target.kind === "oci-bucket") out.push(env("S3_BUCKET_LOOKUP", "path"));
  return out;
}

/** The restic step (backup.sh or a restore script) with this component's repository and settings. */
function resticStep(backup: BackupConfig, c: BackupComponent, name: string, script: string, args: readonly string[], uid: number, mounts: readonly Record<string, unknown>[], extraEnv: readonly Record<string, unknown>[] = []): Step {
  return {
    name, image: images.restic, size: "backupRestic", uid,
    command: ["/bin/sh", `${SCRIPTS_DIR}/${script}`, ...args],
    mounts: [...mounts, SCRIPTS, CACHE],
    env: [...resticEnv(backup, c), ...extraEnv],
    envFrom: [{ secretRef: { name: RESTIC_SECRET } }],
  };
}

const emptyDir = (name: string, sizeLimit: string) => ({ name, emptyDir: { sizeLimit } });
const scriptsVolume = { name: "scripts", configMap: { name: SCRIPTS_CONFIGMAP, defaultMode: 0o555 } };
const SNAPSHOT_ENV = { name: "SNAPSHOT", valueFrom: { configMapKeyRef: { name: RESTORE_CONFIGMAP, key: "SNAPSHOT", optional: true } } };

function postgresEnv(ctx: ClusterContext): Record<string, unknown>[] {
  const db = sampleDatabase(ctx);
  return [
    env("PGHOST", db.host), env("PGPORT", String(db.port)), env("PGUSER", db.user), env("PGDATABASE", db.database),
    { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: db.passwordSecret.name, key: db.passwordSecret.key } } },
  ];
}

/** What runs in a component's backup pod. */
export function backupPod(ctx: ClusterContext, backup: BackupConfig, c: BackupComponent): PodPlan {
  const out = mount("backup", "/backup");
  switch (c) {
    case "gitea": {
      const data = mount("data", "/data", true);
      const giteaEnv = [
        // As the chart's own containers set them (templates/gitea/deployment.yaml).
        env("GITEA_APP_INI", "/data/gitea/conf/app.ini"), env("GITEA_CUSTOM", "/data/gitea"), env("GITEA_WORK_DIR", "/data"),
        env("GITEA_TEMP", "/backup/tmp"), env("TMPDIR", "/backup/tmp"), env("HOME", "/backup"),
      ];
      return {
        init: [
          { name: "dump", image: GITEA_ROOTLESS_IMAGE, size: "backupGiteaDump", uid: GITEA_UID, command: ["/bin/sh", `${SCRIPTS_DIR}/gitea-dump.sh`], mounts: [data, out, SCRIPTS], env: giteaEnv },
          { name: "database", image: images.python, size: "backupSqlite", uid: GITEA_UID, command: ["python3", `${SCRIPTS_DIR}/sqlite-backup.py`, "/data/gitea.db", "/backup/gitea.db"], mounts: [data, out, SCRIPTS], env: [env("PYTHONDONTWRITEBYTECODE", "1")] },
        ],
        main: resticStep(backup, c, "restic", "backup.sh", ["/backup/gitea-dump.tar", "/backup/gitea.db"], GITEA_UID, [mount("backup", "/backup", true)]),
        // The dump is about as large as the repositories: the volume's size.
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: GITEA_CLAIM, readOnly: true } }, emptyDir("backup", "10Gi"), emptyDir("cache", "1Gi"), scriptsVolume],
      };
    }
    case "registry":
      return {
        init: [],
        // The registry's uid (fsGroup of its volume) reads every blob.
        main: resticStep(backup, c, "restic", "backup.sh", ["/var/lib/registry"], 1000, [mount("data", "/var/lib/registry", true)]),
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: REGISTRY_DATA_CLAIM, readOnly: true } }, emptyDir("cache", "1Gi"), scriptsVolume],
      };
    case "postgres":
      return {
        meshed: true,
        init: [{ name: "dump", image: images.postgres, size: "backupPgDump", uid: POSTGRES_UID, command: ["/bin/sh", `${SCRIPTS_DIR}/pg-dump.sh`], mounts: [out, SCRIPTS], env: postgresEnv(ctx) }],
        main: resticStep(backup, c, "restic", "backup.sh", [`/backup/${sampleDatabase(ctx).database}.dump`], POSTGRES_UID, [mount("backup", "/backup", true)]),
        volumes: [emptyDir("backup", "1Gi"), emptyDir("cache", "256Mi"), scriptsVolume],
      };
    case "k3s":
      return {
        onServer: true,
        // Root: the datastore and token are root's, mode 0600 (no capabilities: root owns them).
        init: [{ name: "datastore", image: images.python, size: "backupSqlite", uid: 0, command: ["/bin/sh", `${SCRIPTS_DIR}/k3s-datastore.sh`], mounts: [mount("db", "/k3s/db"), mount("token", "/k3s/token", true), out, SCRIPTS], env: [env("PYTHONDONTWRITEBYTECODE", "1")] }],
        main: resticStep(backup, c, "restic", "backup.sh", ["/backup/state.db", "/backup/token"], 0, [mount("backup", "/backup", true)]),
        volumes: [
          // Read-write: SQLite readers of a WAL database take their locks in state.db-shm.
          { name: "db", hostPath: { path: `${K3S_SERVER_DIR}/db`, type: "Directory" } },
          { name: "token", hostPath: { path: `${K3S_SERVER_DIR}/token`, type: "File" } },
          emptyDir("backup", "2Gi"), emptyDir("cache", "256Mi"), scriptsVolume,
        ],
      };
  }
}

/** What runs in a component's restore pod (a suspended CronJob; restore.sh starts it). */
export function restorePod(ctx: ClusterContext, backup: BackupConfig, c: BackupComponent): PodPlan {
  const work = mount("work", "/work");
  switch (c) {
    case "gitea":
      return {
        init: [],
        main: resticStep(backup, c, "restore", "restore-gitea.sh", [], GITEA_UID, [mount("data", "/data"), work], [SNAPSHOT_ENV]),
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: GITEA_CLAIM } }, emptyDir("work", "20Gi"), emptyDir("cache", "1Gi"), scriptsVolume],
      };
    case "registry":
      return {
        init: [],
        main: resticStep(backup, c, "restore", "restore-registry.sh", [], 1000, [mount("data", "/var/lib/registry"), work], [SNAPSHOT_ENV]),
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: REGISTRY_DATA_CLAIM } }, emptyDir("work", "64Mi"), emptyDir("cache", "1Gi"), scriptsVolume],
      };
    case "postgres": {
      const file = `/backup/${sampleDatabase(ctx).database}.dump`;
      return {
        meshed: true,
        init: [resticStep(backup, c, "fetch", "restore-fetch.sh", ["/restore", file], POSTGRES_UID, [mount("restore", "/restore")], [SNAPSHOT_ENV])],
        main: { name: "restore", image: images.postgres, size: "backupPgDump", uid: POSTGRES_UID, command: ["/bin/sh", `${SCRIPTS_DIR}/restore-postgres.sh`], mounts: [mount("restore", "/restore", true), SCRIPTS], env: postgresEnv(ctx) },
        volumes: [emptyDir("restore", "1Gi"), emptyDir("cache", "256Mi"), scriptsVolume],
      };
    }
    case "k3s":
      return {
        onServer: true,
        init: [],
        main: resticStep(backup, c, "restore", "restore-k3s.sh", [], 0, [mount("staging", "/staging")], [SNAPSHOT_ENV]),
        volumes: [{ name: "staging", hostPath: { path: `${K3S_SERVER_DIR}/db-restore`, type: "DirectoryOrCreate" } }, emptyDir("cache", "256Mi"), scriptsVolume],
      };
  }
}

/** A hardened job container: no privilege escalation, no capabilities, read-only root, seccomp. */
function container(step: Step, size: SizeClass): Record<string, unknown> {
  checkImage(step.image);
  const r = sizeOf(size, step.size);
  return {
    name: step.name,
    image: step.image,
    imagePullPolicy: pullPolicyFor(step.image),
    command: [...step.command],
    resources: { requests: { ...r.requests }, limits: { ...r.limits } },
    ...(step.env ? { env: step.env.map((e) => ({ ...e })) } : {}),
    ...(step.envFrom ? { envFrom: step.envFrom.map((e) => ({ ...e })) } : {}),
    volumeMounts: step.mounts.map((m) => ({ ...m })),
    securityContext: {
      runAsNonRoot: step.uid !== 0,
      runAsUser: step.uid,
      runAsGroup: step.uid,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
}

function cronJob(ctx: ClusterContext, c: BackupComponent, kind: "backup" | "restore", pod: PodPlan): K8sObject {
  const name = kind === "backup" ? backupJobName(c) : restoreJobName(c);
  const labels = { ...BACKUP_POD_LABELS, "app.kubernetes.io/name": name, "app.kubernetes.io/component": c };
  const size = ctx.profile.size;
  const annotations: Record<string, string> = pod.meshed
    // Istio's native sidecar (an init container that keeps running): it starts before the dump and
    // stops when restic exits, so the Job completes (default since Istio 1.27; explicit here).
    ? { "sidecar.istio.io/nativeSidecar": "true" }
    : { "sidecar.istio.io/inject": "false" };
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name, namespace: componentNamespace(ctx, c), labels: { ...labels } },
    spec: {
      schedule: kind === "backup" ? SCHEDULES[c] : NEVER,
      timeZone: "Etc/UTC",
      suspend: kind === "restore",
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: STARTING_DEADLINE_SECONDS,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: { labels: { ...labels } },
        spec: {
          backoffLimit: kind === "backup" ? 2 : 0,
          activeDeadlineSeconds: kind === "backup" ? ACTIVE_DEADLINE_SECONDS : 7200,
          template: {
            metadata: { labels: { ...labels }, annotations },
            spec: {
              restartPolicy: "Never",
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: { seccompProfile: { type: "RuntimeDefault" } },
              ...(pod.onServer ? {
                nodeSelector: { "node-role.kubernetes.io/control-plane": "true" },
                tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
              } : {}),
              ...(pod.init.length > 0 ? { initContainers: pod.init.map((s) => container(s, size)) } : {}),
              containers: [container(pod.main, size)],
              volumes: pod.volumes.map((v) => ({ ...v })),
            },
          },
        },
      },
    },
  };
}

/** The scheduled backup of one component. */
export function backupCronJob(ctx: ClusterContext, backup: BackupConfig, c: BackupComponent): K8sObject {
  return cronJob(ctx, c, "backup", backupPod(ctx, backup, c));
}

/** The suspended restore template of one component. */
export function restoreCronJob(ctx: ClusterContext, backup: BackupConfig, c: BackupComponent): K8sObject {
  return cronJob(ctx, c, "restore", restorePod(ctx, backup, c));
}
