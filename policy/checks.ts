// Pure predicates behind the policies: small, exported and unit-tested on their own.

/** Shells whose `-c` script is inspected instead of the argv itself. */
const SHELLS = /^(\S*\/)?(sh|bash|ash|dash|zsh)$/;
const PYTHON = /^(\S*\/)?python[0-9.]*$/;

/** A single shell command that always exits 0 whatever the service does. */
function trivialSegment(segment: string): boolean {
  const s = segment.trim();
  if (s === "") return true;
  if (/^(\S*\/)?(true|:)$/.test(s)) return true;
  if (/^exit\s+0$/.test(s)) return true;
  if (/^(\S*\/)?(echo|printf)(\s|$)/.test(s)) return true;
  const py = /^(\S*\/)?python[0-9.]*\s+-c\s+(['"])([\s\S]*)\2$/.exec(s);
  return py !== null && trivialPython(py[3]);
}

/** Python code made only of print() calls and pass (PM-11: `print('Health check passed')`). */
function trivialPython(code: string): boolean {
  const statements = code.split(/[;\n]/).map((x) => x.trim()).filter((x) => x !== "");
  return statements.length > 0 && statements.every((x) => /^print\(.*\)$/.test(x) || x === "pass");
}

/**
 * PM-11: true when an exec probe's command succeeds no matter what (echo, true, exit 0, print(),
 * or anything ending in `|| true`). Such a probe reports a dead service as healthy.
 */
export function execProbeCannotFail(command: readonly unknown[] | undefined): boolean {
  if (!command || command.length === 0) return true;
  const argv = command.map((x) => String(x));
  if (PYTHON.test(argv[0]) && argv[1] === "-c") return trivialPython(argv.slice(2).join(" "));
  const script = SHELLS.test(argv[0]) && argv[1] === "-c" ? argv.slice(2).join(" ") : argv.join(" ");
  if (/\|\|\s*(true|:|exit\s+0)\s*;?\s*$/.test(script)) return true;
  return script.split(/;|&&|\n/).every(trivialSegment);
}

/**
 * PM-26: a condition that indexes the Prometheus result must say what an empty result means,
 * or a metric with no traffic (NaN, empty vector) aborts the canary.
 */
export function conditionGuardsEmptyResult(condition: string): boolean {
  if (!/result\s*\[/.test(condition)) return true;
  return /len\(\s*result\s*\)\s*(==|<=|<|>|>=|!=)\s*[01]/.test(condition) || /isNaN\(/.test(condition);
}

export interface ResourcesShape {
  requests?: Record<string, unknown>;
  limits?: Record<string, unknown>;
}

/**
 * PM-07: what a container is missing of requests.cpu, requests.memory and limits.memory. A CPU
 * limit is deliberately not required (it throttles without protecting the node's memory).
 */
export function missingResources(resources: ResourcesShape | undefined): string[] {
  const missing: string[] = [];
  if (!resources?.requests?.cpu) missing.push("requests.cpu");
  if (!resources?.requests?.memory) missing.push("requests.memory");
  if (!resources?.limits?.memory) missing.push("limits.memory");
  return missing;
}
