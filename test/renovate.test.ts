// renovate.json covers every pin: its custom regex managers run over components/lib/versions.ts
// (as Renovate applies them: every matchString, globally, over the whole file) and each pin in
// `versions`, `charts` and `images` is matched exactly once, with the right datasource, package and
// registry; nothing else matches. package.json (npm) and the workflow actions (github-actions, by
// digest) are covered by Renovate's own managers; the constraints the pins' comments state are rules.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { chartImages, charts, images, parseImage, versions } from "../components/lib/versions";
import { CHECKOUT_ACTION } from "../components/gitops/bootstrap-repo";
import { ROOT } from "./helpers/stack";

const config = JSON.parse(fs.readFileSync(path.join(ROOT, "renovate.json"), "utf8"));
const VERSIONS_FILE = "components/lib/versions.ts";
const text = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

interface Manager {
  customType: string;
  description?: string;
  managerFilePatterns: string[];
  matchStrings: string[];
  datasourceTemplate?: string;
  depNameTemplate?: string;
  registryUrlTemplate?: string;
  versioningTemplate?: string;
}
const managers: Manager[] = config.customManagers;

/** Renovate's managerFilePatterns: "/regex/" is a regex, anything else a glob (we use regexes only). */
const filePattern = (p: string) => {
  const m = /^\/(.*)\/$/.exec(p);
  if (!m) throw new Error(`managerFilePatterns entry ${p} is not a /regex/`);
  return new RegExp(m[1]);
};
const managersFor = (file: string) => managers.filter((m) => m.managerFilePatterns.some((p) => filePattern(p).test(file)));

interface Dep { datasource?: string; depName?: string; registryUrl?: string; currentValue?: string; currentDigest?: string; at: number; manager: string }

/** What Renovate extracts from `content`: each matchString applied globally; groups win over templates. */
function extract(file: string): Dep[] {
  const content = text(file);
  return managersFor(file).flatMap((m) => m.matchStrings.flatMap((s) => [...content.matchAll(new RegExp(s, "gd"))].map((match) => {
    const g = match.groups ?? {};
    return {
      datasource: g.datasource ?? m.datasourceTemplate, depName: g.depName ?? m.depNameTemplate, registryUrl: g.registryUrl ?? m.registryUrlTemplate,
      currentValue: g.currentValue, currentDigest: g.currentDigest,
      at: (match as any).indices.groups.currentValue[0] as number, manager: m.description ?? s,
    };
  })));
}

/** Every pin of versions.ts: where its value sits in the file, and what Renovate must look it up as. */
function pins() {
  const content = text(VERSIONS_FILE);
  const at = (value: string, after = 0) => {
    const i = content.indexOf(`"${value}"`, after);
    if (i < 0) throw new Error(`pin ${value} not found as a string literal in ${VERSIONS_FILE}`);
    return i + 1;
  };
  const github: Record<keyof typeof versions, string> = {
    k3s: "k3s-io/k3s", k3d: "k3d-io/k3d", kubectlArgoRollouts: "argoproj/argo-rollouts", kubectl: "kubernetes/kubernetes", pulumiCli: "pulumi/pulumi",
  };
  const out: { name: string; at: number; expected: Partial<Dep> }[] = [];
  for (const [k, v] of Object.entries(versions)) out.push({ name: `versions.${k}`, at: at(v), expected: { datasource: "github-releases", depName: github[k as keyof typeof versions], currentValue: v } });
  for (const [k, c] of Object.entries(charts)) {
    const line = content.indexOf(`${k}: { repo: "${c.repo}"`);
    out.push({ name: `charts.${k}`, at: at(c.version, line), expected: { datasource: "helm", depName: c.chart, registryUrl: c.repo, currentValue: c.version } });
  }
  for (const [k, image] of [...Object.entries(images).map(([k, v]) => [`images.${k}`, v]), ...Object.entries(chartImages).map(([k, v]) => [`chartImages.${k}`, v])]) {
    const ref = parseImage(image);
    out.push({ name: k, at: at(image) + ref.name.length + 1, expected: { datasource: "docker", depName: ref.name, currentValue: ref.tag, currentDigest: ref.digest } });
  }
  return out;
}

describe("renovate.json: custom managers over components/lib/versions.ts", () => {
  const deps = extract(VERSIONS_FILE);

  it("is well-formed: regex custom managers with /regex/ file patterns, a datasource, and regexes RE2 can run (no lookaround, no backreferences)", () => {
    expect(config.$schema).toBe("https://docs.renovatebot.com/renovate-schema.json");
    expect(managers.length).toBeGreaterThan(0);
    for (const m of managers) {
      expect(m.customType).toBe("regex");
      expect(m.managerFilePatterns.length).toBeGreaterThan(0);
      m.managerFilePatterns.forEach(filePattern);
      for (const s of m.matchStrings) {
        expect(s, "RE2 has no lookaround").not.toMatch(/\(\?[=!]|\(\?<[=!]/);
        expect(s, "RE2 has no backreferences").not.toMatch(/\\[1-9]/);
        const groups = [...s.matchAll(/\(\?<(\w+)>/g)].map((g) => g[1]);
        expect(groups, s).toContain("currentValue");
        expect(groups.includes("datasource") || m.datasourceTemplate, s).toBeTruthy();
        expect(groups.includes("depName") || m.depNameTemplate, s).toBeTruthy();
      }
    }
  });

  it("every pin in versions, charts and images is matched exactly once, as the right package of the right datasource", () => {
    const all = pins();
    expect(all.length).toBe(Object.keys(versions).length + Object.keys(charts).length + Object.keys(images).length + Object.keys(chartImages).length);
    for (const pin of all) {
      const hits = deps.filter((d) => d.at === pin.at);
      expect(hits.length, `${pin.name} is matched ${hits.length} times`).toBe(1);
      expect(hits[0], pin.name).toMatchObject(pin.expected);
    }
  });

  it("nothing else in versions.ts is taken for a dependency", () => {
    const at = new Set(pins().map((p) => p.at));
    expect(deps.filter((d) => !at.has(d.at)).map((d) => `${d.depName}@${d.currentValue}`)).toEqual([]);
  });

  it("K3s versions compare with their +k3sN build (a semver build suffix would be ignored)", () => {
    const k3s = managers.find((m) => m.depNameTemplate === "k3s-io/k3s")!;
    const re = new RegExp(k3s.versioningTemplate!.replace(/^regex:/, ""));
    const m = re.exec(versions.k3s);
    expect(m?.groups).toMatchObject({ major: "1", build: expect.stringMatching(/^\d+$/) });
    expect(re.test("v1.35.10-rc1+k3s1"), "release candidates are not proposed").toBe(false);
  });
});

describe("renovate.json: package.json, workflow actions, the release workflow's checkout", () => {
  it("npm covers package.json: no manager is disabled, every dependency is a range Renovate updates", () => {
    expect(config.enabledManagers, "enabledManagers would switch npm and github-actions off").toBeUndefined();
    expect(config.npm?.enabled).not.toBe(false);
    const pkg = JSON.parse(text("package.json"));
    for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/);
  });

  it("every workflow action is pinned by commit with its version in a comment, in a file the github-actions manager reads, and digests are pinned", () => {
    // Renovate's github-actions default managerFilePatterns (docs.renovatebot.com/modules/manager/github-actions).
    const defaults = [/(^|\/)(workflow-templates|\.(?:github|gitea|forgejo)\/(?:workflows|actions))\/.+\.ya?ml$/, /(^|\/)action\.ya?ml$/];
    const files = [".github/workflows", ".gitea/workflows"].flatMap((d) => fs.readdirSync(path.join(ROOT, d)).map((f) => `${d}/${f}`));
    expect(files.length).toBeGreaterThan(2);
    let actions = 0;
    for (const f of files) {
      expect(defaults.some((r) => r.test(f)), f).toBe(true);
      for (const line of text(f).split("\n").filter((l) => /^\s*(- )?uses:/.test(l))) {
        expect(line, `${f}: ${line.trim()}`).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
        actions++;
      }
      YAML.parse(text(f));
    }
    expect(actions).toBeGreaterThan(5);
    expect(config.packageRules).toContainEqual(expect.objectContaining({ matchManagers: ["github-actions"], pinDigests: true }));
  });

  it("#14 images: digests are pinned for every docker dependency and written back with the tag; the template's Dockerfile base is matched once, as images.python", () => {
    expect(config.packageRules).toContainEqual(expect.objectContaining({ matchDatasources: ["docker"], pinDigests: true }));
    const images_ = managers.find((m) => m.description?.startsWith("Container images")) as Manager & { autoReplaceStringTemplate?: string };
    expect(images_.autoReplaceStringTemplate).toContain("{{#if newDigest}}@{{{newDigest}}}{{/if}}");
    const deps = extract("components/apps/template/Dockerfile");
    expect(deps).toHaveLength(1);
    const py = parseImage(images.python);
    expect(deps[0]).toMatchObject({ datasource: "docker", depName: py.name, currentValue: py.tag, currentDigest: py.digest });
  });

  it("the release workflow's actions/checkout in bootstrap-repo.ts is matched once, digest and version together", () => {
    const deps = extract("components/gitops/bootstrap-repo.ts");
    expect(deps).toHaveLength(1);
    expect(deps[0]).toMatchObject({ datasource: "github-tags", depName: "actions/checkout", currentDigest: CHECKOUT_ACTION.split("@")[1], currentValue: expect.stringMatching(/^v4\./) });
  });
});

describe("renovate.json: the constraints the pins' comments state are rules", () => {
  const rule = (pkg: string) => config.packageRules.find((r: any) => r.matchPackageNames?.includes(pkg) && r.allowedVersions);
  const major = (v: string) => Number(/(\d+)/.exec(v)![1]);

  it("Gitea workflows and the release workflow stay on node20 actions; every pin there is inside its cap", () => {
    const caps: Record<string, number> = { "actions/checkout": 5, "actions/setup-node": 5, "pulumi/actions": 7 };
    for (const f of fs.readdirSync(path.join(ROOT, ".gitea/workflows")).map((x) => `.gitea/workflows/${x}`)) {
      for (const m of text(f).matchAll(/uses: ([\w.-]+\/[\w.-]+)@[0-9a-f]{40} # (v[\d.]+)/g)) {
        const r = config.packageRules.find((p: any) => p.matchPackageNames?.includes(m[1]) && p.matchFileNames?.includes(".gitea/workflows/**"));
        expect(r?.allowedVersions, `${f}: ${m[1]}`).toBe(`<${caps[m[1]]}`);
        expect(major(m[2]), `${f}: ${m[1]} ${m[2]}`).toBeLessThan(caps[m[1]]);
      }
    }
    expect(rule("actions/checkout").matchFileNames).toContain("components/gitops/bootstrap-repo.ts");
  });

  it("dind below 29, kube-state-metrics below 2.20, python 3.12, never a compromised Trivy, @pulumi/command 1.x: each current pin satisfies its rule", () => {
    const tag = (image: string) => parseImage(image).tag;
    expect(rule("docker.io/library/docker").allowedVersions).toBe("<29");
    expect(major(tag(images.dind))).toBeLessThan(29);
    expect(rule("registry.k8s.io/kube-state-metrics/kube-state-metrics").allowedVersions).toBe("<2.20.0");
    expect(tag(images.kubeStateMetrics)).toMatch(/^v2\.(1\d|[0-9])\./);
    expect(rule("docker.io/library/python").allowedVersions).toBe("<3.13");
    const trivy = new RegExp(/^!\/(.*)\/$/.exec(rule("docker.io/aquasec/trivy").allowedVersions)![1]);
    expect(["0.69.4", "0.69.5", "0.69.6"].every((v) => trivy.test(v))).toBe(true);
    expect(trivy.test(tag(images.trivy))).toBe(false);
    expect(rule("@pulumi/command").allowedVersions).toBe("<2");
    expect(JSON.parse(text("package.json")).dependencies["@pulumi/command"]).toMatch(/^\^1\./);
  });
});
