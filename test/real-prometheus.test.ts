// promtool (Debian package prometheus) on what the cluster's Prometheus reads: the sample app's
// /metrics from the real server, and the prometheus.yml the pinned chart renders from our values.
// Debian builds Prometheus without Kubernetes service discovery (its NEWS.Debian, 1.5.0+ds-1:
// "Kubernetes support has been completely removed"), so promtool rejects kubernetes_sd_configs:
// those blocks are checked apart, against Prometheus v3.14.0's discovery/kubernetes (the chart's
// appVersion), and removed from the copy promtool checks. Debian ships 2.42, the server is 3.14;
// nothing in our configuration differs between the two.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prometheusValues } from "../components/monitoring/prometheus";
import { Environment } from "../components/lib/profiles";
import { needs } from "./helpers/binaries";
import { testContext } from "./helpers/context";
import { request } from "./helpers/processes";
import { chartConfigFiles } from "./helpers/prometheus-chart";
import { SampleApi, startSampleApi } from "./helpers/sample-api";

const ENVIRONMENTS: Environment[] = ["oci", "homelab", "dev"];

function promtool(bin: string, args: string[], input?: string) {
  const r = spawnSync(bin, args, { encoding: "utf8", input, timeout: 20_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

// Prometheus v3.14.0 discovery/kubernetes: SDConfig fields and roles (kubernetes.go), and the meta
// labels each role sets (pod.go, endpointslice.go, service.go; addObjectMetaLabels for
// <role>_name/_label_*/_labelpresent_*/_annotation_*/_annotationpresent_*).
const SD_FIELDS = new Set(["api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata"]);
const NAMESPACE_FIELDS = new Set(["own_namespace", "names"]);
const meta = (role: string) => `${role}_(name|(label|labelpresent|annotation|annotationpresent)_[a-zA-Z0-9_]+)`;
const POD = `${meta("pod")}|pod_(ip|ready|phase|node_name|host_ip|uid|controller_kind|controller_name|deployment_name|job_name|cronjob_name)|pod_container_(name|image|id|init|port_name|port_number|port_protocol)`;
const ROLE_LABELS: Record<string, RegExp> = {
  pod: new RegExp(`^__meta_kubernetes_(namespace|${POD})$`),
  endpointslice: new RegExp(`^__meta_kubernetes_(namespace|${meta("endpointslice")}|endpointslice_(address_type|address_target_kind|address_target_name|port|port_name|port_protocol|port_app_protocol|endpoint_(conditions_(ready|serving|terminating)|hostname|node_name|zone|topology_[a-zA-Z0-9_]+|topology_present_[a-zA-Z0-9_]+))|${meta("service")}|${POD})$`),
};

/** Problems with the job's kubernetes_sd_configs and the meta labels its relabelling reads. */
function kubernetesSdProblems(job: any): string[] {
  const problems: string[] = [];
  const sds: any[] = job.kubernetes_sd_configs ?? [];
  for (const sd of sds) {
    for (const k of Object.keys(sd)) if (!SD_FIELDS.has(k)) problems.push(`${job.job_name}: unknown kubernetes_sd_configs field ${k}`);
    if (!ROLE_LABELS[sd.role]) problems.push(`${job.job_name}: role ${sd.role} (checked here: ${Object.keys(ROLE_LABELS)})`);
    for (const k of Object.keys(sd.namespaces ?? {})) if (!NAMESPACE_FIELDS.has(k)) problems.push(`${job.job_name}: unknown namespaces field ${k}`);
    if (sd.namespaces?.names && !sd.namespaces.names.every((n: unknown) => typeof n === "string")) problems.push(`${job.job_name}: namespaces.names must be strings`);
  }
  const sources = (job.relabel_configs ?? []).flatMap((r: any) => r.source_labels ?? []) as string[];
  for (const label of sources.filter((l) => l.startsWith("__meta_kubernetes_"))) {
    if (!sds.length) problems.push(`${job.job_name}: reads ${label} without Kubernetes discovery`);
    else if (!sds.some((sd) => ROLE_LABELS[sd.role]?.test(label))) problems.push(`${job.job_name}: role ${sds.map((s) => s.role)} never sets ${label}`);
  }
  return problems;
}

const tools = needs("promtool", "python3");

tools.describe("sample app /metrics under promtool check metrics", () => {
  let app: SampleApi;
  beforeAll(async () => { app = await startSampleApi(tools.bin("python3")); });
  afterAll(async () => { await app?.stop(); });

  it("the exposition of the running server (after 200s and a 404) passes promtool's lint", async () => {
    for (const p of ["/", "/", "/nope", "/health"]) await request(app.url + p);
    const metrics = await request(`${app.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toContain('http_requests_total{code="404",method="GET",path="other"} 1');
    const r = promtool(tools.bin("promtool"), ["check", "metrics"], metrics.body);
    expect(r.out.trim()).toBe("");
    expect(r.code).toBe(0);
  });
});

const promtoolOnly = needs("promtool");
promtoolOnly.describe("the chart's prometheus.yml from our values under promtool check config", () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "prometheus-config-")); });
  afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  /** The ConfigMap's files in a directory standing for /etc/config; returns prometheus.yml's path. */
  function writeConfig(env: Environment, mutate: (cfg: any) => void = () => undefined): { file: string; config: any } {
    const files = chartConfigFiles(prometheusValues({ ctx: testContext(env) }));
    const target = path.join(dir, env);
    fs.mkdirSync(target, { recursive: true });
    const config = structuredClone(files["prometheus.yml"]) as any;
    mutate(config);
    config.rule_files = config.rule_files.map((f: string) => f.replace(/^\/etc\/config\//, `${target}/`));
    for (const job of config.scrape_configs) delete job.kubernetes_sd_configs;
    for (const [name, content] of Object.entries(files)) if (name !== "prometheus.yml") fs.writeFileSync(path.join(target, name), YAML.stringify(content));
    const file = path.join(target, "prometheus.yml");
    fs.writeFileSync(file, YAML.stringify(config));
    return { file, config: files["prometheus.yml"] };
  }

  it("the rendering keeps the chart's self-scrape and our jobs, drops every disabled default, sets 15s scrapes", () => {
    const cfg = chartConfigFiles(prometheusValues({ ctx: testContext("oci") }))["prometheus.yml"] as any;
    expect(cfg.scrape_configs.map((j: any) => j.job_name)).toEqual(["annotated-pods", "istiod", "kube-state-metrics", "prometheus"]);
    expect(cfg.scrape_configs.find((j: any) => j.job_name === "prometheus").static_configs).toEqual([{ targets: ["localhost:9090"] }]);
    expect(cfg.global).toEqual({ scrape_interval: "15s", scrape_timeout: expect.any(String), evaluation_interval: "15s" });
    expect(cfg.alerting).toBeUndefined();
  });

  it.each(ENVIRONMENTS)("PM-20 %s: promtool check config accepts it (globals, relabelling, targets, rule files)", (env) => {
    const { file } = writeConfig(env);
    const r = promtool(promtoolOnly.bin("promtool"), ["check", "config", file]);
    expect(r.out).toContain("SUCCESS");
    expect(r.code, r.out).toBe(0);
  });

  it.each(ENVIRONMENTS)("PM-20 %s: kubernetes_sd_configs use fields and roles Prometheus 3.14 knows, and relabel on labels their role sets", (env) => {
    const cfg = chartConfigFiles(prometheusValues({ ctx: testContext(env) }))["prometheus.yml"] as any;
    expect(cfg.scrape_configs.filter((j: any) => j.kubernetes_sd_configs).map((j: any) => j.job_name)).toEqual(["annotated-pods", "istiod"]);
    expect(cfg.scrape_configs.flatMap(kubernetesSdProblems)).toEqual([]);
  });

  it("the checks fail on what they guard: a timeout over the interval, a bad regex, an unset meta label", () => {
    const bin = promtoolOnly.bin("promtool");
    const slow = writeConfig("oci", (c) => { c.global.scrape_timeout = "20s"; });
    expect(promtool(bin, ["check", "config", slow.file]).out).toMatch(/scrape timeout greater than scrape interval/);
    const regex = writeConfig("oci", (c) => { c.scrape_configs.find((j: any) => j.job_name === "annotated-pods").relabel_configs[0].regex = "(tr"; });
    expect(promtool(bin, ["check", "config", regex.file]).code).not.toBe(0);
    const job = structuredClone(writeConfig("oci").config.scrape_configs.find((j: any) => j.job_name === "istiod"));
    job.relabel_configs[0].source_labels = ["__meta_kubernetes_endpoints_name"];
    expect(kubernetesSdProblems(job)).toEqual(["istiod: role endpointslice never sets __meta_kubernetes_endpoints_name"]);
    expect(kubernetesSdProblems({ job_name: "x", kubernetes_sd_configs: [{ role: "pods" }] })).toEqual(["x: role pods (checked here: pod,endpointslice)"]);
  });
});

describe("chart rendering helper", () => {
  it("refuses a default job it cannot reproduce", () => {
    const values = prometheusValues({ ctx: testContext("oci") }) as any;
    const scrapeConfigs = { ...values.scrapeConfigs };
    delete scrapeConfigs["kubernetes-pods"];
    expect(() => chartConfigFiles({ ...values, scrapeConfigs })).toThrow(/kubernetes-pods stays enabled/);
  });
});
