// What the backups add to the resource budget (PM-07). CronJob pods are short-lived but the
// scheduler counts their requests while they run, at night when applications may be busy: without
// room for them a backup waits Pending until its deadline. Their slots are an hour apart and each
// Job is killed before the next slot (jobs.ts), so at most one backup pod runs at a time: the plan
// counts one pod of the "backupJob" size, which test/backup.test.ts holds above every backup pod's
// effective requests. Restore pods run by hand, during an outage, and are not counted. The
// rest-server of the host-path target is long-running and counted in full.
import type { PlatformConfig } from "../../config";
import { BudgetItem, cpuMillis, memoryMi, Resources } from "../lib/budget";
import { sizeOf, SizeClass } from "../lib/sizes";

/** Effective requests and limits of a pod as the scheduler sees them: the larger of any init container
 * (plus sidecars started before it) and the containers plus all sidecars (Kubernetes "Sidecar containers"). */
export function effectivePodResources(pod: { initContainers?: any[]; containers: any[] }): { cpuMillis: number; memoryMi: number; memoryLimitMi: number } {
  const of = (c: any) => ({
    cpu: cpuMillis(c.resources?.requests?.cpu ?? "0m"),
    mem: memoryMi(c.resources?.requests?.memory ?? "0Mi"),
    lim: memoryMi(c.resources?.limits?.memory ?? c.resources?.requests?.memory ?? "0Mi"),
  });
  let sidecars = { cpu: 0, mem: 0, lim: 0 };
  let peak = { cpu: 0, mem: 0, lim: 0 };
  for (const c of pod.initContainers ?? []) {
    const r = of(c);
    const running = { cpu: sidecars.cpu + r.cpu, mem: sidecars.mem + r.mem, lim: sidecars.lim + r.lim };
    peak = { cpu: Math.max(peak.cpu, running.cpu), mem: Math.max(peak.mem, running.mem), lim: Math.max(peak.lim, running.lim) };
    if (c.restartPolicy === "Always") sidecars = running;
  }
  const main = pod.containers.map(of).reduce((a, r) => ({ cpu: a.cpu + r.cpu, mem: a.mem + r.mem, lim: a.lim + r.lim }), sidecars);
  return { cpuMillis: Math.max(peak.cpu, main.cpu), memoryMi: Math.max(peak.mem, main.mem), memoryLimitMi: Math.max(peak.lim, main.lim) };
}

/** Budget items beyond PLATFORM_CONTAINERS: the host-path target's rest-server. */
export function backupBudgetItems(cfg: Pick<PlatformConfig, "backup" | "profile">): BudgetItem[] {
  if (cfg.backup.target.kind !== "host-path") return [];
  return [{ name: "backup/restServer", resources: sizeOf(cfg.profile.size as SizeClass, "restServer") as Resources }];
}
