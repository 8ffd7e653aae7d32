// #14 item 5, supply chain: every image the stack runs is pinned by tag AND by the digest of its
// multi-arch index, unless it is in the UNPINNED_DIGESTS backlog with a reason; every download in a
// script or workflow the stack ships is checked against a pinned sha256 before it is used.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  chartImages, charts, DOCKER_CLI_SHA256, images, k3sImage, K3S_IMAGE_DIGESTS, parseImage, UNPINNED_DIGESTS, UNPINNED_DOWNLOADS, versions,
} from "../components/lib/versions";
import { releaseWorkflow } from "../components/gitops/bootstrap-repo";
import { Created, plain } from "./helpers/mocks";
import { ROOT, runStack, StackRun } from "./helpers/stack";

const DIGEST = /@sha256:[0-9a-f]{64}$/;
const pinned = new Map<string, string>(); // reference -> "images.x" / "chartImages.x"
for (const [k, v] of Object.entries(images)) pinned.set(v, `images.${k}`);
for (const [k, v] of Object.entries(chartImages)) pinned.set(v, `chartImages.${k}`);

/** Docker's normalisation: a bare name is docker.io/library/name, a one-slash name docker.io/user/name. */
function normalise(ref: string): string {
  const first = ref.split("/")[0];
  if (!ref.includes("/")) return `docker.io/library/${ref}`;
  if (!/[.:]/.test(first) && first !== "localhost") return `docker.io/${ref}`;
  return ref;
}

/** Why a reference may stay without a digest, or undefined when it must have one. */
function backlogReason(ref: string): string | undefined {
  const key = pinned.get(ref);
  return key ? UNPINNED_DIGESTS[key] : undefined;
}

function problem(ref: string, where: string, ownRegistry?: string): string | undefined {
  if (ownRegistry && ref.startsWith(`${ownRegistry}/`)) return undefined; // built and pushed by the platform's CI
  if (!/:[A-Za-z0-9_][A-Za-z0-9._-]*(@|$)/.test(ref.slice(ref.lastIndexOf("/")))) return `${where}: ${ref} has no tag`;
  if (DIGEST.test(ref)) return undefined;
  return backlogReason(ref) ? undefined : `${where}: ${ref} has no @sha256 digest and is not in UNPINNED_DIGESTS`;
}

const get = (o: any, p: string) => p.split(".").reduce((x, k) => (x == null ? undefined : x[k]), o);

/**
 * The image each chart renders for the values we pass (the templates' own expressions, read at the
 * pinned chart versions; the default when we pass nothing is the chart's, named in chartImages).
 */
function chartRendered(chart: string, v: any): { what: string; ref: string }[] {
  const repoTag = (what: string, img: any, fallback: string) =>
    ({ what, ref: img?.repository && img?.tag ? `${img.repository}:${img.tag}` : fallback });
  switch (chart) {
    case "argo-cd": // templates/<component>/deployment.yaml: repository:tag; redis/deployment.yaml the same
      return [
        ...["server", "controller", "repoServer", "applicationSet"].map((c) => repoTag(`argo-cd ${c}`, get(v, `${c}.image`), "quay.io/argoproj/argocd:<appVersion>")),
        repoTag("argo-cd redis", get(v, "redis.image"), "ecr-public.aws.com/docker/library/redis:<default>"),
      ];
    case "gitea": { // templates/_helpers.tpl "gitea.image": registry/repository:tag[-rootless][@digest]
      const i = v.image ?? {};
      return [{ what: "gitea", ref: `${i.registry}/${i.repository}:${i.tag}${i.rootless ? "-rootless" : ""}${i.digest ? `@${i.digest}` : ""}` }];
    }
    case "prometheus": // templates/deploy.yaml: repository:tag, or repository@digest (no tag) with image.digest
      expect(get(v, "server.image.digest"), "image.digest drops the tag").toBeUndefined();
      return [
        repoTag("prometheus server", get(v, "server.image"), "quay.io/prometheus/prometheus:<appVersion>"),
        // The configmap-reload sidecar only when enabled (issue 13: it is off, no lifecycle API).
        ...(get(v, "configmapReload.prometheus.enabled") === false ? [] : [repoTag("prometheus configmap-reload", get(v, "configmapReload.prometheus.image"), "quay.io/prometheus-operator/prometheus-config-reloader:<default>")]),
      ];
    case "argo-rollouts": // templates/controller/deployment.yaml: registry/repository:(tag | appVersion)
      return [{ what: "argo-rollouts", ref: get(v, "controller.image.tag") ? `${get(v, "controller.image.registry")}/${get(v, "controller.image.repository")}:${get(v, "controller.image.tag")}` : chartImages.argoRollouts }];
    case "istiod": // pilot.image / global.proxy.image are used whole when they contain "/"
      return [
        { what: "istiod", ref: String(get(v, "pilot.image") ?? "").includes("/") ? get(v, "pilot.image") : chartImages.istioPilot },
        { what: "istio proxy", ref: String(get(v, "global.proxy.image") ?? "").includes("/") ? get(v, "global.proxy.image") : chartImages.istioProxy },
      ];
    case "kiali-server": { // templates/deployment.yaml: image_name:image_version[@image_digest]
      const d = get(v, "deployment") ?? {};
      return [{ what: "kiali", ref: d.image_name ? `${d.image_name}:${d.image_version}${d.image_digest ? `@${d.image_digest}` : ""}` : chartImages.kiali }];
    }
    default: // base (CRDs only) and gateway (image: auto, the injected proxy above)
      return [];
  }
}

/** Every `image` value, `docker://` runner label, Dockerfile FROM/ARG *_IMAGE and `docker create|run` image in a value, deeply, YAML text included. */
function imagesIn(value: unknown, where: string, out: { where: string; ref: string }[] = []): { where: string; ref: string }[] {
  if (typeof value === "string") {
    for (const m of value.matchAll(/docker:\/\/([^\s"',]+)/g)) out.push({ where: `${where} (runner label)`, ref: m[1] });
    for (const m of value.matchAll(/^\s*ARG [A-Z_]*IMAGE=(\S+)/gm)) out.push({ where: `${where} (Dockerfile ARG)`, ref: m[1] });
    const stages = new Set([...value.matchAll(/^\s*FROM \S+(?: \S+)? AS (\S+)/gim)].map((m) => m[1]));
    for (const m of value.matchAll(/^\s*FROM (?:--platform=\S+ )?([^\s$]\S*)/gm)) if (!stages.has(m[1])) out.push({ where: `${where} (Dockerfile FROM)`, ref: m[1] });
    for (const m of value.matchAll(/docker (?:create|run)(?: --?[a-z-]+(?:[ =][^\s-]\S*)?)* ([a-z0-9][^\s"'$]*:[^\s"'$]+)/g)) out.push({ where: `${where} (docker create/run)`, ref: m[1] });
    if (/^\s*(image|container):/m.test(value) && value.includes("\n")) {
      try { imagesIn(YAML.parseAllDocuments(value).map((d) => d.toJSON()), `${where} (YAML)`, out); } catch { /* not YAML */ }
    }
    return out;
  }
  if (Array.isArray(value)) { value.forEach((v, i) => imagesIn(v, `${where}[${i}]`, out)); return out; }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if ((k === "image" || k === "container") && typeof v === "string" && v !== "auto") out.push({ where: `${where}.${k}`, ref: v });
      else imagesIn(v, `${where}.${k}`, out);
    }
  }
  return out;
}

function renderedImages(run: StackRun): { where: string; ref: string }[] {
  const out: { where: string; ref: string }[] = [];
  for (const c of run.created as Created[]) {
    if (c.type === "kubernetes:helm.sh/v4:Chart") {
      for (const r of chartRendered(String(c.inputs.chart), plain(c.inputs.values ?? {}))) out.push({ where: `chart ${c.inputs.chart}: ${r.what}`, ref: r.ref });
      continue;
    }
    imagesIn(plain(c.inputs), `${c.type} ${c.name}`, out);
  }
  return out;
}

const STACKS = ["dev", "oci", "homelab"] as const;
const runs = new Map<string, Promise<StackRun>>();
const stack = (s: string) => { if (!runs.has(s)) runs.set(s, runStack(s)); return runs.get(s)!; };

describe("#14 images by tag and multi-arch index digest", () => {
  it("every pin in versions.ts is name:tag@sha256:<64 hex>, or in UNPINNED_DIGESTS with a reason; the backlog lists only real, undigested pins", () => {
    for (const [ref, key] of pinned) {
      const p = parseImage(ref);
      expect(p.tag, key).not.toBe("latest");
      if (p.digest) expect(UNPINNED_DIGESTS[key], `${key} has a digest: drop it from UNPINNED_DIGESTS`).toBeUndefined();
      else expect(UNPINNED_DIGESTS[key]?.length ?? 0, `${key} (${ref}) has no digest and no UNPINNED_DIGESTS entry`).toBeGreaterThan(20);
    }
    for (const key of Object.keys(UNPINNED_DIGESTS)) expect([...pinned.values()], `UNPINNED_DIGESTS names ${key}, which is no pin`).toContain(key);
    expect(k3sImage()).toMatch(DIGEST);
    for (const [v, d] of Object.entries(K3S_IMAGE_DIGESTS)) expect(`${v} ${d}`).toMatch(/^v\d+\.\d+\.\d+\+k3s\d+ sha256:[0-9a-f]{64}$/);
    const n = pinned.size + 1;
    const withDigest = [...pinned.keys()].filter((r) => DIGEST.test(r)).length + 1;
    console.log(`#14 images pinned by digest: ${withDigest} of ${n} (backlog: ${Object.keys(UNPINNED_DIGESTS).join(", ")})`);
  });

  it("every digest comes with the comment that names where it was found (no bare digest)", () => {
    const text = fs.readFileSync(path.join(ROOT, "components/lib/versions.ts"), "utf8");
    for (const ref of [...pinned.keys()].filter((r) => DIGEST.test(r))) {
      const at = text.indexOf(`"${ref}"`);
      const comment = text.slice(text.lastIndexOf("/**", at), at);
      expect(comment, ref).toMatch(/repositor|@ [0-9a-f]{7,}/);
    }
  });

  it("chart images follow their chart: each chartImages comment names the chart at its pinned version", () => {
    const text = fs.readFileSync(path.join(ROOT, "components/lib/versions.ts"), "utf8");
    const chartOf: Record<keyof typeof chartImages, keyof typeof charts> = {
      argocd: "argoCd", argocdRedis: "argoCd", argoRollouts: "argoRollouts", istioPilot: "istiod", istioProxy: "istiod", kiali: "kiali", prometheus: "prometheus",
    };
    for (const [k, ref] of Object.entries(chartImages)) {
      const at = text.indexOf(`"${ref}"`);
      const comment = text.slice(text.lastIndexOf("/**", at), at);
      const pin = charts[chartOf[k as keyof typeof chartImages]];
      expect(comment, `chartImages.${k}: re-check the image when ${pin.chart} moves`).toContain(`${pin.chart} ${pin.version}`);
    }
  });

  for (const s of STACKS) {
    it(`${s}: every image the stack renders (objects, chart values, runner labels, the bootstrap repository's Dockerfile and workflows, k3d) has a tag and a digest, or is in the backlog`, async () => {
      const run = await stack(s);
      const found = renderedImages(run);
      const registry = String((run.outputs.urls as any)?.registry ?? "");
      expect(found.length).toBeGreaterThan(10);
      const refs = new Set(found.map((f) => normalise(f.ref)));
      for (const must of [images.gitea, images.postgres, images.registry, images.trivy, images.python, chartImages.argocd, chartImages.prometheus]) expect([...refs], must).toContain(must);
      const problems = found.map((f) => problem(normalise(f.ref), f.where, registry || undefined)).filter(Boolean);
      expect(problems).toEqual([]);
    }, 120_000);
  }

  it("the repository's own workflows (jobs' container:/services: images) and Dockerfiles: tag and digest, or backlog", () => {
    const files = gitFiles().filter((f) => !f.endsWith(".sh"));
    expect(files.filter((f) => f.endsWith(".yml") || f.endsWith(".yaml")).length).toBeGreaterThan(3);
    const found = files.flatMap((f) => {
      const text = fs.readFileSync(path.join(ROOT, f), "utf8");
      return imagesIn(f.endsWith("Dockerfile") ? text : YAML.parse(text) ?? {}, f);
    });
    expect(found.map((f) => f.ref)).toContain(images.python);
    expect(found.map((f) => problem(normalise(f.ref), f.where)).filter(Boolean)).toEqual([]);
  });

  it("the check catches what main had: a tag-only image, a chart default without digest, `latest`", () => {
    expect(problem("docker.io/library/registry:3.1.1", "x")).toMatch(/no @sha256/);
    expect(problem("docker.gitea.com/gitea:1.27.3-rootless", "x")).toMatch(/no @sha256/);
    expect(problem(normalise("rancher/k3s:v1.35.9-k3s1"), "x")).toMatch(/no @sha256/);
    expect(problem("docker.io/library/python", "x")).toMatch(/no tag/);
    expect(problem(chartImages.istioProxy, "x")).toBeUndefined();
    const oldGitea = chartRendered("gitea", { image: { registry: "docker.gitea.com", repository: "gitea", tag: "1.27.3", rootless: true } });
    expect(problem(oldGitea[0].ref, "x")).toMatch(/no @sha256/);
    const oldArgo = chartRendered("argo-cd", {});
    expect(oldArgo.map((r) => problem(r.ref, r.what)).filter(Boolean)).toHaveLength(5);
    expect(imagesIn({ files: "ARG PYTHON_IMAGE=docker.io/library/python:3.12.14-slim\nFROM ${PYTHON_IMAGE}\n" }, "f").map((f) => f.ref)).toEqual(["docker.io/library/python:3.12.14-slim"]);
  });
});

// --- Downloads -------------------------------------------------------------------------------------

/** Hosts a script downloads code from: such a file's fetches must each be checked against a sha256. */
const RELEASE_HOST = /https:\/\/[^\s"']*(github\.com|githubusercontent\.com|dl\.k8s\.io|download\.docker\.com|get\.[a-z0-9-]+\.[a-z]+|releases)/;
const FETCH = /(^|[\s;&|(`])(curl|wget)\s/;
const TO_FILE = /\s(-o|-O|--output|-[a-zA-Z]*o)\s+(?!\/dev\/null)\S|\|\s*(tar|sh|bash|sudo)\b|\s>\s*(?!\/dev\/null)\S/;
const CHECK = /sha256sum|shasum -a 256|sha256 -c/;

/** Lines of `text` that download (curl/wget into a file or a pipe) with no sha256 check within the next 12 lines. */
export function uncheckedDownloads(text: string, where: string): string[] {
  if (!RELEASE_HOST.test(text)) return [];
  const lines = text.split("\n");
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (/^\s*#/.test(line) || !FETCH.test(line) || !TO_FILE.test(line)) return;
    if (Object.keys(UNPINNED_DOWNLOADS).some((url) => lines.slice(Math.max(0, i - 3), i + 1).join("\n").includes(url))) return;
    if (!lines.slice(i + 1, i + 13).some((l) => CHECK.test(l))) out.push(`${where}:${i + 1}: ${line.trim()}`);
  });
  return out;
}

function gitFiles(): string[] {
  const r = spawnSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter((f) => /(\.sh$|Dockerfile$|^\.(github|gitea)\/workflows\/.+\.ya?ml$)/.test(f) && !f.startsWith("test/"));
}

describe("#14 every download is checked against a pinned sha256", () => {
  it("scripts, Dockerfiles and workflows in the repository: each curl/wget from a release host is followed by a sha256 check", () => {
    const files = gitFiles();
    expect(files).toContain("components/cluster/scripts/install-k3s.sh");
    expect(files).toContain("scripts/e2e/install-tools.sh");
    const bad = files.flatMap((f) => uncheckedDownloads(fs.readFileSync(path.join(ROOT, f), "utf8"), f));
    expect(bad).toEqual([]);
  });

  for (const s of STACKS) {
    it(`${s}: every script the stack renders (the release workflow in Git, cloud-init, remote commands) checks its downloads`, async () => {
      const run = await stack(s);
      const texts: { where: string; text: string }[] = [];
      const walk = (v: unknown, where: string) => {
        if (typeof v === "string") { if (v.includes("\n") && FETCH.test(v)) texts.push({ where, text: v }); }
        else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
        else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
      };
      for (const c of run.created as Created[]) walk(plain(c.inputs), `${c.type} ${c.name}`);
      expect(texts.some((t) => t.text.includes("download.docker.com")), "the release workflow is among them").toBe(true);
      expect(texts.flatMap((t) => uncheckedDownloads(t.text, t.where))).toEqual([]);
    }, 120_000);
  }

  it("the check fails on what main had: the plugin installed unchecked, the Docker CLI piped straight into tar", () => {
    const mainPlugin = [
      'url="https://github.com/argoproj/argo-rollouts/releases/download/${ROLLOUTS_VERSION}/kubectl-argo-rollouts-linux-${arch}"',
      'install -d "$bin_dir"',
      'curl -sfL --retry 5 --retry-delay 5 "$url" -o "$plugin.tmp"',
      'install -m 0755 "$plugin.tmp" "$plugin"',
    ].join("\n");
    expect(uncheckedDownloads(mainPlugin, "install-k3s.sh")).toHaveLength(1);
    const mainDocker = 'curl -fsSL "https://download.docker.com/linux/static/stable/$(uname -m)/docker-28.5.2.tgz" | tar -xz -C "$dir" --strip-components=1 docker/docker';
    expect(uncheckedDownloads(mainDocker, "release.yaml")).toHaveLength(1);
    expect(uncheckedDownloads(`${mainDocker}\necho "$sum  x" | sha256sum -c -`, "release.yaml")).toHaveLength(1 - 1);
  });

  it("the release workflow checks the Docker CLI per architecture before unpacking it, and refuses a version without sums", () => {
    const sums = DOCKER_CLI_SHA256[/:(\d+\.\d+\.\d+)/.exec(images.dind)![1]];
    expect(sums.x86_64).toMatch(/^[0-9a-f]{64}$/);
    expect(sums.aarch64).toMatch(/^[0-9a-f]{64}$/);
    const ctx = { endpoints: { registry: { host: "registry.example:5000" } } } as any;
    const args = { ctx, serverUrl: "http://gitea.example:3000", image: "platform/sample-api", manifests: ["deploy/dev/rollout.yaml"] } as any;
    const wf = YAML.parse(releaseWorkflow(args));
    const run: string = wf.jobs.release.steps.find((x: any) => x.name === "docker-cli").run;
    expect(run).toContain(sums.x86_64);
    expect(run).toContain(sums.aarch64);
    expect(run.indexOf("sha256sum -c")).toBeLessThan(run.indexOf("tar -xzf"));
    expect(() => releaseWorkflow({ ...args, dockerCliVersion: "1.2.3" })).toThrow(/no sha256 pinned for Docker CLI 1\.2\.3/);
  });

  it("the release workflow's docker-cli step, run for real with bash: a tarball with another sha256 is refused and not unpacked", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docker-cli-"));
    try {
      const bin = path.join(tmp, "bin");
      fs.mkdirSync(bin);
      // curl stub: writes a tarball with a fake docker/docker; uname reports x86_64; no docker on PATH.
      fs.mkdirSync(path.join(tmp, "src/docker"), { recursive: true });
      fs.writeFileSync(path.join(tmp, "src/docker/docker"), "#!/bin/sh\necho fake\n", { mode: 0o755 });
      expect(spawnSync("tar", ["-czf", path.join(tmp, "docker.tgz"), "-C", path.join(tmp, "src"), "docker"]).status).toBe(0);
      fs.writeFileSync(path.join(bin, "curl"), `#!/bin/bash\nwhile [ $# -gt 0 ]; do case "$1" in -o) cp "${tmp}/docker.tgz" "$2"; shift 2;; *) shift;; esac; done\n`, { mode: 0o755 });
      fs.writeFileSync(path.join(bin, "uname"), "#!/bin/sh\necho x86_64\n", { mode: 0o755 });
      const ctx = { endpoints: { registry: { host: "registry.example:5000" } } } as any;
      const wf = YAML.parse(releaseWorkflow({ ctx, serverUrl: "http://gitea.example:3000", image: "platform/sample-api", manifests: ["deploy/dev/rollout.yaml"] } as any));
      const script: string = wf.jobs.release.steps.find((x: any) => x.name === "docker-cli").run;
      const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: path.join(tmp, "home"), GITHUB_PATH: path.join(tmp, "github_path") };
      const r = spawnSync("bash", ["-c", script.replace("if command -v docker >/dev/null; then exit 0; fi", "")], { encoding: "utf8", env });
      expect(r.status, "the fake tarball is not the pinned one").not.toBe(0);
      expect(r.stderr + r.stdout).toMatch(/FAILED/);
      expect(fs.existsSync(path.join(tmp, "home/.docker-cli/docker"))).toBe(false);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("the downloads left unchecked are listed with a reason", () => {
    for (const [k, reason] of Object.entries(UNPINNED_DOWNLOADS)) {
      expect(k).toMatch(/^https:\/\/\S+\/$/);
      expect(reason.length).toBeGreaterThan(20);
    }
    expect(versions.kubectlArgoRollouts).toMatch(/^v\d+\.\d+\.\d+$/);
  });
});
