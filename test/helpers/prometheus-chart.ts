// The files the prometheus chart's ConfigMap holds (mounted at /etc/config), as
// prometheus-community/helm-charts charts/prometheus/templates/cm.yaml renders them at tag
// prometheus-29.27.0, for given values. Written by hand from that template and the chart's
// values.yaml; only the parts our values reach are reproduced, anything else throws:
// - values are coalesced over the chart defaults as Helm does (maps merge, the user's value wins);
// - prometheus.yml = `global` from server.global, then `scrape_configs` from the scrapeConfigs map in
//   key order (Go template range), entries whose `enabled` is false dropped, `job_name` defaulting
//   to the key, `enabled`/`job_name` omitted from the body; then the rest of serverFiles'
//   prometheus.yml (rule_files); no `alerting` unless alertmanager.enabled or server.alertmanagers;
// - every other serverFiles key is a file of its own (`{}` when empty).
const NOT_REPRODUCED = Symbol("body not reproduced");

/** The chart defaults our values meet (values.yaml @ prometheus-29.27.0). */
function chartDefaults(): Record<string, any> {
  // Default jobs other than `prometheus`: their bodies are not copied here; they must be disabled.
  const others = [
    "kubernetes-api-servers", "kubernetes-nodes", "kubernetes-nodes-cadvisor", "kubernetes-service-endpoints",
    "kubernetes-service-endpoints-slow", "prometheus-pushgateway", "kubernetes-services", "kubernetes-pods", "kubernetes-pods-slow",
  ];
  return {
    alertmanager: { enabled: true },
    server: { global: { scrape_interval: "1m", scrape_timeout: "10s", evaluation_interval: "1m" }, alertmanagers: [] },
    scrapeConfigs: {
      prometheus: { enabled: true, job_name: "", static_configs: [{ targets: ["localhost:9090"] }] },
      ...Object.fromEntries(others.map((j) => [j, { enabled: true, job_name: "", [NOT_REPRODUCED]: true }])),
    },
    serverFiles: {
      "alerting_rules.yml": {}, alerts: {}, "recording_rules.yml": {}, rules: {},
      "prometheus.yml": { rule_files: ["/etc/config/recording_rules.yml", "/etc/config/alerting_rules.yml", "/etc/config/rules", "/etc/config/alerts"] },
    },
  };
}

const isMap = (v: unknown): v is Record<string | symbol, any> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Helm's coalescing of user values over chart defaults (null deletes a default). */
export function coalesce(defaults: any, user: any): any {
  if (!isMap(defaults) || !isMap(user)) return user === undefined ? defaults : user;
  const out: Record<string | symbol, any> = { ...defaults };
  for (const [k, v] of Object.entries(user)) {
    if (v === null) delete out[k];
    else out[k] = coalesce(defaults[k], v);
  }
  return out;
}

/** File name → content (YAML or JSON, both YAML), as in the ConfigMap's data. */
export function chartConfigFiles(values: Record<string, unknown>): Record<string, unknown> {
  const v = coalesce(chartDefaults(), values);
  for (const key of ["remoteWrite", "remoteRead", "tsdb", "exemplars", "otlp"]) {
    if (v.server[key] && (!Array.isArray(v.server[key]) || v.server[key].length)) throw new Error(`server.${key} is set: not reproduced`);
  }
  if (v.scrapeConfigFiles?.length || v.extraScrapeConfigs) throw new Error("scrapeConfigFiles/extraScrapeConfigs are set: not reproduced");
  if (v.alertmanager.enabled || v.server.alertmanagers.length) throw new Error("alerting is on: the alertmanagers block is not reproduced");
  if (v.server.configMapOverrideName || v.server.configFromSecret) throw new Error("the chart would not render its ConfigMap");
  const files: Record<string, unknown> = {};
  for (const key of Object.keys(v.serverFiles).sort()) {
    const value = v.serverFiles[key];
    if (key !== "prometheus.yml") { files[key] = value ?? {}; continue; }
    const jobs = Object.keys(v.scrapeConfigs).sort().flatMap((name) => {
      const job = v.scrapeConfigs[name];
      if (job.enabled === false) return [];
      if (job[NOT_REPRODUCED]) throw new Error(`chart default job ${name} stays enabled; its body is not reproduced here`);
      const { enabled: _e, job_name, ...body } = job;
      return [{ job_name: job_name || name, ...body }];
    });
    const { scrape_configs: extra = [], ...rest } = value;
    files[key] = { global: v.server.global, ...(jobs.length || extra.length ? { scrape_configs: [...jobs, ...extra] } : {}), ...rest };
  }
  return files;
}

/**
 * The server container's args as charts/prometheus/templates/deploy.yaml renders them at tag
 * prometheus-29.27.0 (no defaultFlagsOverride): retention, config file, TSDB path, console
 * flags, then `--<flag>` per server.extraFlags (default [web.enable-lifecycle]; a list replaces
 * it whole), then `--<key>=<value>` per server.extraArgs in key order (Go's map range), then
 * prefixURL / baseURL. Values are coalesced over those defaults as Helm does.
 */
export function chartServerArgs(values: Record<string, any>): string[] {
  const defaults = {
    server: {
      retention: "15d", retentionSize: "", configPath: "/etc/config/prometheus.yml", storagePath: "",
      persistentVolume: { mountPath: "/data" }, extraFlags: ["web.enable-lifecycle"], extraArgs: {}, prefixURL: "", baseURL: "",
      defaultFlagsOverride: [],
    },
  };
  const s = coalesce(defaults, values).server;
  if (s.defaultFlagsOverride.length > 0) throw new Error("chartServerArgs: defaultFlagsOverride is not reproduced");
  return [
    ...(s.retention ? [`--storage.tsdb.retention.time=${s.retention}`] : []),
    ...(s.retentionSize ? [`--storage.tsdb.retention.size=${s.retentionSize}`] : []),
    `--config.file=${s.configPath}`,
    `--storage.tsdb.path=${s.storagePath || s.persistentVolume.mountPath}`,
    "--web.console.libraries=/etc/prometheus/console_libraries",
    "--web.console.templates=/etc/prometheus/consoles",
    ...s.extraFlags.map((f: string) => `--${f}`),
    ...Object.keys(s.extraArgs).sort().map((k) => (s.extraArgs[k] ? `--${k}=${s.extraArgs[k]}` : `--${k}`)),
    ...(s.prefixURL ? [`--web.route-prefix=${s.prefixURL}`] : []),
    ...(s.baseURL ? [`--web.external-url=${s.baseURL}`] : []),
  ];
}
