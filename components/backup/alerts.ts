// Failures visible: alert rules Prometheus evaluates over kube-state-metrics' CronJob series
// (kube_cronjob_* at v2.19.1: internal/store/cronjob.go). The CronJob controller sets
// lastScheduleTime when a run starts and lastSuccessfulTime to a successful run's completion time,
// so "scheduled after the last success" means the newest run has not succeeded (yet). No
// Alertmanager runs here: firing alerts show on Prometheus' /alerts page and in the ALERTS series.
import { ClusterContext } from "../lib/context";
import { BACKUP_COMPONENTS, backupJobName, componentNamespace, MAX_AGE_SECONDS, RUN_DEADLINE_SECONDS } from "./jobs";

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/** Series of the backup CronJobs only: the restore-* templates are suspended and never succeed. */
const SEL = 'cronjob=~"backup-.+"';

/** The rules, as `serverFiles."alerting_rules.yml"` of the prometheus chart takes them (values.yaml @ 29.27.0). */
export function backupAlertRules(ctx: ClusterContext): RuleGroup {
  const scheduled = `kube_cronjob_status_last_schedule_time{${SEL}}`;
  const succeeded = `kube_cronjob_status_last_successful_time{${SEL}}`;
  const hours = Math.round(MAX_AGE_SECONDS / 3600);
  return {
    name: "platform-backups",
    rules: [
      {
        alert: "BackupFailed",
        // The newest run started more than a run's deadline ago and has no success after its start
        // (or there was never one): it failed or was killed at its deadline.
        expr: `(time() - ${scheduled} > ${RUN_DEADLINE_SECONDS}) and on(namespace, cronjob) ((${scheduled} > on(namespace, cronjob) ${succeeded}) or on(namespace, cronjob) (${scheduled} unless on(namespace, cronjob) ${succeeded}))`,
        for: "5m",
        labels: { severity: "critical" },
        annotations: {
          summary: "The last {{ $labels.namespace }}/{{ $labels.cronjob }} run did not succeed",
          description: "kubectl -n {{ $labels.namespace }} get jobs -l app.kubernetes.io/name={{ $labels.cronjob }}; kubectl -n {{ $labels.namespace }} logs job/<name> --all-containers (docs/restore.md)",
        },
      },
      {
        alert: "BackupTooOld",
        // Catches what the run alert cannot: a suspended CronJob, a schedule that never fires, a
        // CronJob that has never succeeded since it was created.
        expr: `(time() - ${succeeded} > ${MAX_AGE_SECONDS}) or ((time() - kube_cronjob_created{${SEL}} > ${MAX_AGE_SECONDS}) unless on(namespace, cronjob) ${succeeded})`,
        for: "5m",
        labels: { severity: "critical" },
        annotations: {
          summary: `No successful {{ $labels.namespace }}/{{ $labels.cronjob }} backup in ${hours} hours`,
          description: "The newest restorable snapshot is older than a day: check the CronJob (suspended? scheduled?) and its last Job's logs.",
        },
      },
      {
        alert: "BackupNotMonitored",
        // Each expected CronJob must be visible: a namespace kube-state-metrics does not watch (PM-20)
        // would leave the two rules above silently empty. absent() keeps the matchers as labels.
        expr: BACKUP_COMPONENTS.map((c) => `absent(kube_cronjob_info{namespace="${componentNamespace(ctx, c)}",cronjob="${backupJobName(c)}"})`).join(" or "),
        for: "15m",
        labels: { severity: "warning" },
        annotations: {
          summary: "kube-state-metrics reports no {{ $labels.namespace }}/{{ $labels.cronjob }} CronJob",
          description: "Either the CronJob is gone or kube-state-metrics does not watch its namespace (--namespaces): the backup alerts cannot fire for it.",
        },
      },
    ],
  };
}
