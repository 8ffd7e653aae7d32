// The resource budget (PM-07): what the platform asks for, against what the host has left after
// K3s's own reservations. Checked before any resource is registered.
import { allocatable } from "../cluster/k3s-config";

export interface Resources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly memory: string; readonly cpu?: string };
}

export interface BudgetItem {
  /** component/container, e.g. "gitea/gitea". */
  readonly name: string;
  readonly resources: Resources;
  /** Pods running this container (replicas). @default 1 */
  readonly replicas?: number;
}

export interface Capacity {
  readonly cpuMillis: number;
  readonly memoryMi: number;
  readonly description: string;
}

export interface Budget {
  readonly capacity: Capacity;
  readonly requests: { readonly cpuMillis: number; readonly memoryMi: number };
  readonly limits: { readonly memoryMi: number };
  /** Share of the capacity's memory not requested by the platform, 0..1. */
  readonly freeMemoryRatio: number;
  readonly items: readonly { name: string; cpuMillis: number; memoryMi: number; memoryLimitMi: number }[];
}

export function cpuMillis(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(q);
  if (!m) throw new Error(`invalid CPU quantity "${q}" (use e.g. 250m or 1)`);
  return m[2] === "m" ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

export function memoryMi(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`invalid memory quantity "${q}" (use Mi or Gi, e.g. 256Mi)`);
  const factor = { Ki: 1 / 1024, Mi: 1, Gi: 1024 }[m[2] as "Ki" | "Mi" | "Gi"];
  return Number(m[1]) * factor;
}

/** Per-node allocatable summed over the nodes: what pods can actually request. */
export function capacityOf(nodes: readonly { cpus: number; memoryGb: number }[], description: string): Capacity {
  let cpu = 0;
  let mem = 0;
  for (const n of nodes) {
    const a = allocatable(n.cpus, n.memoryGb);
    cpu += a.cpuMillis;
    mem += a.memoryMi;
  }
  return { cpuMillis: cpu, memoryMi: Math.floor(mem), description };
}

export function computeBudget(items: readonly BudgetItem[], capacity: Capacity): Budget {
  const rows = items.map((i) => {
    const n = i.replicas ?? 1;
    const limit = memoryMi(i.resources.limits.memory);
    const request = memoryMi(i.resources.requests.memory);
    if (limit < request) throw new Error(`${i.name}: memory limit ${i.resources.limits.memory} is below its request ${i.resources.requests.memory}`);
    return { name: i.name, cpuMillis: cpuMillis(i.resources.requests.cpu) * n, memoryMi: request * n, memoryLimitMi: limit * n };
  });
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
  const requests = { cpuMillis: sum((r) => r.cpuMillis), memoryMi: sum((r) => r.memoryMi) };
  return {
    capacity,
    requests,
    limits: { memoryMi: sum((r) => r.memoryLimitMi) },
    freeMemoryRatio: capacity.memoryMi > 0 ? 1 - requests.memoryMi / capacity.memoryMi : 0,
    items: [...rows].sort((a, b) => b.memoryMi - a.memoryMi || a.name.localeCompare(b.name)),
  };
}

export interface BudgetRules {
  /** Least share of memory left for applications, e.g. 0.4 (oci, homelab). */
  readonly minFreeMemoryRatio: number;
  /** Most memory the platform may request, e.g. 4096 on dev. */
  readonly maxRequestsMi?: number;
  /** Most share of the allocatable CPU, and separately of its memory, the platform may request (oci: 0.5). */
  readonly maxRequestsShare?: number;
}

/** Requested share of the allocatable CPU and memory, 0..1 each. */
export function requestShares(budget: Budget): { cpu: number; memory: number } {
  const cap = budget.capacity;
  return {
    cpu: cap.cpuMillis > 0 ? budget.requests.cpuMillis / cap.cpuMillis : Infinity,
    memory: cap.memoryMi > 0 ? budget.requests.memoryMi / cap.memoryMi : Infinity,
  };
}

/** Throws a message naming the total, the capacity and the biggest consumers when it does not fit. */
export function assertBudget(budget: Budget, rules: BudgetRules): void {
  const top = budget.items.slice(0, 5).map((i) => `${i.name} ${Math.round(i.memoryMi)}Mi`).join(", ");
  const cap = budget.capacity;
  const problems: string[] = [];
  if (budget.requests.cpuMillis > cap.cpuMillis) {
    problems.push(`CPU requests ${budget.requests.cpuMillis}m exceed the allocatable ${cap.cpuMillis}m`);
  }
  if (budget.requests.memoryMi > cap.memoryMi) {
    problems.push(`memory requests ${Math.round(budget.requests.memoryMi)}Mi exceed the allocatable ${cap.memoryMi}Mi`);
  } else if (budget.freeMemoryRatio < rules.minFreeMemoryRatio) {
    problems.push(`memory requests ${Math.round(budget.requests.memoryMi)}Mi leave ${Math.round(budget.freeMemoryRatio * 100)}% of the allocatable ${cap.memoryMi}Mi free; at least ${Math.round(rules.minFreeMemoryRatio * 100)}% must stay free for applications`);
  }
  if (rules.maxRequestsShare !== undefined) {
    const share = requestShares(budget);
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    const max = rules.maxRequestsShare;
    const rows = [
      ["CPU", share.cpu, `${budget.requests.cpuMillis}m`, `${cap.cpuMillis}m`, `${Math.floor(cap.cpuMillis * max)}m`],
      ["memory", share.memory, `${Math.round(budget.requests.memoryMi)}Mi`, `${cap.memoryMi}Mi`, `${Math.floor(cap.memoryMi * max)}Mi`],
    ] as const;
    for (const [what, value, asked, total, most] of rows) {
      if (value > max) {
        problems.push(`${what} requests ${asked} are ${pct(value)} of the allocatable ${total}; the platform may take at most ${most} (${pct(max)}), the rest is for applications`);
      }
    }
  }
  if (rules.maxRequestsMi !== undefined && budget.requests.memoryMi > rules.maxRequestsMi) {
    problems.push(`memory requests ${Math.round(budget.requests.memoryMi)}Mi exceed this environment's cap of ${rules.maxRequestsMi}Mi`);
  }
  if (problems.length > 0) {
    throw new Error(`resource budget (PM-07) does not fit ${cap.description}: ${problems.join("; ")}. Biggest consumers: ${top}. Raise platform:hostMemoryGb/hostCpus (or ocpus/memoryGb; beyond the Always Free allowance also platform:allowPaidShapes), or lower component sizes in the environment profile.`);
  }
}
