// The bootstrap repository Argo CD watches: a Kubernetes Job (scripts/bootstrap-repo.sh) creates the
// organisation and the repository with default branch main (PM-19), a CI access token stored as the
// repository's Actions secret CI_TOKEN (PM-03), pushes the initial content into the empty repository,
// and on later runs commits the files the stack renders when they changed (what the stack owns in Git:
// see OWNED_LIST). Also the release workflow that content ships (PM-24, PM-32).
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { isLoopbackReference, REGISTRY_PUSH_USER } from "../lib/endpoints";
import { checkImage, K8sObject, podSecurityContext, pullPolicyFor } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { applyOverlays } from "../lib/overlays";
import { readScript } from "../lib/scripts";
import { stableYaml } from "../cluster/k3s-config";
import { DOCKER_CLI_SHA256, images } from "../lib/versions";
import { clusterFingerprint } from "../lib/secrets";

export const BOOTSTRAP_ORG = "platform";
export const BOOTSTRAP_REPO = "platform-apps";
/** Name of the access token the Job (re)creates for CI pushes (PM-03). */
export const CI_TOKEN_NAME = "platform-ci";
export const SCRIPT = "gitops/scripts/bootstrap-repo.sh";
/** Fetches the org's runner registration token into the runner's Secret (issue 14); called by SCRIPT. */
export const RUNNER_TOKEN_SCRIPT = "gitops/scripts/runner-token.sh";
/** Gitea user Argo CD reads the repository as: a read collaborator, not site admin (#14.1). */
export const GIT_READER_USER = "argocd-reader";
/** Gitea user CI pushes as (CI_TOKEN is its token): a write collaborator of the repository only (#14.1). */
export const CI_BOT_USER = "ci-bot";

/**
 * Image with bash, git and curl. alpine/git has no curl (alpine-docker/git
 * Dockerfile: git git-lfs gpg less openssh patch perl), so the Job uses Gitea's own rootless image
 * (go-gitea/gitea Dockerfile.rootless: apk add bash ca-certificates dumb-init gettext git curl gnupg;
 * USER 1000:1000; multi-arch): the pin Gitea itself runs, so nodes already have it.
 */
export const BOOTSTRAP_IMAGE = images.gitea;
const IMAGE_UID = 1000;

/** Small and short-lived; sizes.ts has no key for Jobs (the budget counts long-running containers). */
const JOB_RESOURCES = { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } };

/** The repository's in-cluster URL (PM-14): what Argo CD and Applications use. */
export function repoUrl(ctx: ClusterContext, org = BOOTSTRAP_ORG, repo = BOOTSTRAP_REPO): string {
  const url = `${ctx.endpoints.gitea.internalUrl}/${org}/${repo}.git`;
  if (isLoopbackReference(url)) throw new Error(`repoUrl: "${url}" is a loopback address (PM-14)`);
  return url;
}

const SAFE_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
/** ConfigMaps hold at most 1 MiB; leave room for metadata. */
const MAX_CONTENT_BYTES = 900 * 1024;

/**
 * The file in the repository that lists what the stack owns there, one path a line: the files it
 * renders (deploy/<environment>/*, argocd/*.yaml, .gitea/workflows/release.yaml). A later run
 * rewrites them when the stack renders them differently and removes those it no longer renders;
 * everything else (app/**, anything the user adds) is only ever written by the first push.
 */
export const OWNED_LIST = ".platform/stack-owned";

export interface ContentConfig {
  /** ConfigMap data: one key per file plus MANIFEST ("<key> <owned|initial> <path>" per line). */
  readonly data: Record<string, string>;
  /** Hash of everything the Job does, for its name. */
  readonly hash: string;
}

/**
 * Encodes repository files as ConfigMap keys (paths are not valid keys) and hashes them. `files`
 * follow the stack (owned); `initial` are pushed into the empty repository only (the user's after).
 */
export function contentConfig(files: Record<string, string>, extra: readonly string[] = [], initial: Record<string, string> = {}): ContentConfig {
  const all: [string, string, "owned" | "initial"][] = [
    ...Object.keys(files).map((p) => [p, files[p], "owned"] as [string, string, "owned"]),
    ...Object.keys(initial).map((p) => [p, initial[p], "initial"] as [string, string, "initial"]),
  ].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (all.length === 0) throw new Error("bootstrap content: no files given");
  const data: Record<string, string> = {};
  const lines: string[] = [];
  const hash = createHash("sha256");
  let bytes = 0;
  for (const [p, text, mode] of all) {
    if (!SAFE_PATH.test(p) || p.split("/").some((s) => s === "." || s === "..")) {
      throw new Error(`bootstrap content: path "${p}" must be relative, without "..", made of [A-Za-z0-9._-/]`);
    }
    if (p === OWNED_LIST) throw new Error(`bootstrap content: ${OWNED_LIST} is written by the script`);
    const key = `f-${createHash("sha256").update(p).digest("hex").slice(0, 16)}`;
    if (key in data) throw new Error(`bootstrap content: path "${p}" is given twice (owned and initial)`);
    data[key] = text;
    lines.push(`${key} ${mode} ${p}`);
    bytes += Buffer.byteLength(text, "utf8");
    hash.update(`${p}\0${mode}\0${text}\0`);
  }
  if (bytes > MAX_CONTENT_BYTES) throw new Error(`bootstrap content: ${bytes} bytes exceed the ConfigMap limit (${MAX_CONTENT_BYTES})`);
  data.MANIFEST = `${lines.join("\n")}\n`;
  for (const e of extra) hash.update(`${e}\0`);
  return { data, hash: hash.digest("hex").slice(0, 10) };
}

export interface BootstrapJobArgs {
  readonly ctx: ClusterContext;
  /** Kubernetes name, with the content hash as suffix. */
  readonly name: pulumi.Input<string>;
  readonly namespace: string;
  readonly image: string;
  readonly secretName: string;
  readonly scriptConfigMap: string;
  readonly contentConfigMap: string;
  readonly org: string;
  readonly repo: string;
  /** Also store the registry credentials as Actions secrets (the workflow logs in with them). */
  readonly withRegistrySecret: boolean;
  /** Seconds the script waits for Gitea's /api/healthz. @default 600 */
  readonly waitSeconds?: number;
  /** Images (registry/repository, no tag) whose tag in an owned file is CI's: a re-render keeps Git's tag. @default [] */
  readonly keepImageTags?: readonly string[];
  /** Where the org's runner registration token goes, and the ServiceAccount (runnerTokenServiceAccount) the pod then runs as. @default none */
  readonly runnerToken?: RunnerTokenTarget & { readonly serviceAccount: string };
}

/** The one Secret the bootstrap Job writes the organisation's runner registration token to (issue 14). */
export interface RunnerTokenTarget {
  readonly namespace: string;
  readonly secretName: string;
  readonly key: string;
}

/** The Job's ServiceAccount: its only permission is the Role below. */
export function runnerTokenServiceAccount(jobNamespace: string, name: string): K8sObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: jobNamespace }, automountServiceAccountToken: false };
}

/**
 * Role and RoleBinding in the runner's namespace: that one Secret by name. An apply is a PATCH on the
 * named object; the one that creates it is authorized as `create` too, with the object's name
 * (apiserver endpoints/handlers/patch.go, createAuthorizerAttributes), so resourceNames bounds it,
 * while a POST create (no name) still matches nothing here.
 */
export function runnerTokenRbac(jobNamespace: string, serviceAccount: string, target: RunnerTokenTarget): K8sObject[] {
  const name = `${serviceAccount}-runner-token`;
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role",
      metadata: { name, namespace: target.namespace },
      rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: [target.secretName], verbs: ["create", "get", "patch"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding",
      metadata: { name, namespace: target.namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace: jobNamespace }],
    },
  ];
}

/**
 * A failed run stays failed in the state, and the next `up` would only wait for it again; with
 * this annotation pulumi-kubernetes replaces a Job that is not ready (provider.go Diff,
 * `metadata.ReplaceUnready`), so the next `up` runs it again.
 */
export const JOB_ANNOTATIONS = { "pulumi.com/replaceUnready": "true" } as const;

export const JOB_LABELS = { "app.kubernetes.io/name": "bootstrap-repo", "app.kubernetes.io/part-of": "platform" };

/** The Job: hardened, credentials from a Secret (never argv), no ttlSecondsAfterFinished (Pulumi would recreate it). */
export function bootstrapJob(args: BootstrapJobArgs): K8sObject {
  checkImage(args.image);
  const url = args.ctx.endpoints.gitea.internalUrl;
  if (isLoopbackReference(url)) throw new Error(`bootstrapJob: Gitea URL "${url}" is a loopback address (PM-14)`);
  const fromSecret = (name: string, key: string, optional = false) =>
    ({ name, valueFrom: { secretKeyRef: { name: args.secretName, key, ...(optional ? { optional: true } : {}) } } });
  const env = [
    { name: "GITEA_URL", value: url },
    fromSecret("GITEA_USER", "username"),
    fromSecret("GITEA_PASSWORD", "password"),
    { name: "READER_USER", value: GIT_READER_USER },
    fromSecret("READER_PASSWORD", "reader-password"),
    { name: "BOT_USER", value: CI_BOT_USER },
    fromSecret("BOT_PASSWORD", "bot-password"),
    { name: "ORG", value: args.org },
    { name: "REPO", value: args.repo },
    { name: "TOKEN_NAME", value: CI_TOKEN_NAME },
    { name: "CONTENT_DIR", value: "/content" },
    { name: "WAIT_SECONDS", value: String(args.waitSeconds ?? 600) },
    { name: "HOME", value: "/home/bootstrap" },
    { name: "TMPDIR", value: "/tmp" },
    ...(args.withRegistrySecret
      ? [{ name: "REGISTRY_USERNAME", value: REGISTRY_PUSH_USER }, fromSecret("REGISTRY_PASSWORD", "registry-password")]
      : []),
    ...((args.keepImageTags ?? []).length > 0 ? [{ name: "KEEP_IMAGE_TAGS", value: [...args.keepImageTags!].join(" ") }] : []),
    ...(args.runnerToken ? [
      { name: "RUNNER_TOKEN_NAMESPACE", value: args.runnerToken.namespace },
      { name: "RUNNER_TOKEN_SECRET", value: args.runnerToken.secretName },
      { name: "RUNNER_TOKEN_KEY", value: args.runnerToken.key },
    ] : []),
  ];
  for (const ref of args.keepImageTags ?? []) {
    if (!/^[a-z0-9][a-z0-9._:/-]*$/.test(ref) || /:[^/]*$/.test(ref.split("/").slice(1).join("/"))) {
      throw new Error(`bootstrapJob: keepImageTags entry "${ref}" must be registry/repository without a tag`);
    }
  }
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: args.name as string, namespace: args.namespace, labels: { ...JOB_LABELS }, annotations: { ...JOB_ANNOTATIONS } },
    spec: {
      backoffLimit: 3,
      activeDeadlineSeconds: (args.waitSeconds ?? 600) + 600,
      template: {
        metadata: { labels: { ...JOB_LABELS }, annotations: { "sidecar.istio.io/inject": "false" } },
        spec: {
          restartPolicy: "Never",
          // A token only when the Job writes the runner's Secret, for an account allowed nothing else.
          ...(args.runnerToken ? { serviceAccountName: args.runnerToken.serviceAccount, automountServiceAccountToken: true } : { automountServiceAccountToken: false }),
          securityContext: { ...podSecurityContext(), runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID },
          containers: [{
            name: "bootstrap",
            image: args.image,
            imagePullPolicy: pullPolicyFor(args.image),
            command: ["/bin/bash", `/scripts/${SCRIPT.split("/").pop()}`],
            env,
            resources: { requests: { ...JOB_RESOURCES.requests }, limits: { ...JOB_RESOURCES.limits } },
            securityContext: {
              runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
            },
            volumeMounts: [
              { name: "script", mountPath: "/scripts", readOnly: true },
              { name: "content", mountPath: "/content", readOnly: true },
              { name: "home", mountPath: "/home/bootstrap" },
              { name: "tmp", mountPath: "/tmp" },
            ],
          }],
          volumes: [
            { name: "script", configMap: { name: args.scriptConfigMap, defaultMode: 0o555 } },
            { name: "content", configMap: { name: args.contentConfigMap } },
            { name: "home", emptyDir: { sizeLimit: "16Mi" } },
            { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
          ],
        },
      },
    },
  };
}

export interface ReleaseWorkflowArgs {
  readonly ctx: ClusterContext;
  /** ctx.endpoints.gitea.runnerUrl, resolved: what job containers reach (PM-24). */
  readonly serverUrl: string;
  /** Image repository under the registry host, e.g. "platform/sample-api". */
  readonly image: string;
  /** Manifests whose image tag the release bumps, e.g. ["deploy/dev/rollout.yaml"]. */
  readonly manifests: readonly string[];
  /** Build context with the Dockerfile (stages `test` and the runtime last). @default "app" */
  readonly appDir?: string;
  /** File with the base version for main builds (semver x.y.z). @default "<appDir>/VERSION" */
  readonly versionFile?: string;
  /** @default BOOTSTRAP_ORG */
  readonly org?: string;
  /** @default BOOTSTRAP_REPO */
  readonly repo?: string;
  /** Runner label. @default "ubuntu-latest" */
  readonly runsOn?: string;
  /** Trivy image. @default images.trivy */
  readonly trivyImage?: string;
  /** Docker CLI fetched when the job image has none (node images do not). @default the images.dind version */
  readonly dockerCliVersion?: string;
}

/** The Docker CLI matching the dind daemon the runner uses (images.dind "docker:28.5.2-dind"). */
export const DOCKER_CLI_VERSION = /:(\d+\.\d+\.\d+)/.exec(images.dind)?.[1] ?? "";

/** actions/checkout v4.4.0 (2026-07-16, runs on node20, which act_runner's act fork supports); by commit. */
export const CHECKOUT_ACTION = "actions/checkout@11d5960a326750d5838078e36cf38b85af677262";

/** Escapes ERE metacharacters and the `#` sed delimiter. */
const reEscape = (s: string) => s.replace(/[.[\]*^$\\+?(){}|#]/g, "\\$&");

/** `.gitea/workflows/release.yaml`: test -> build -> Trivy -> push :<semver> and :<sha> -> bump manifests -> push (PM-03, PM-32). */
export function releaseWorkflow(args: ReleaseWorkflowArgs): string {
  const server = new URL(args.serverUrl);
  if (!/^https?:$/.test(server.protocol)) throw new Error(`releaseWorkflow: serverUrl must be http(s), got "${args.serverUrl}"`);
  if (isLoopbackReference(args.serverUrl)) throw new Error(`releaseWorkflow: serverUrl "${args.serverUrl}" is loopback; job containers need the runner URL (PM-24)`);
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(args.image)) throw new Error(`releaseWorkflow: image "${args.image}" must be a repository path without host or tag`);
  if (args.manifests.length === 0) throw new Error("releaseWorkflow: no manifests to bump");
  for (const m of args.manifests) if (!SAFE_PATH.test(m)) throw new Error(`releaseWorkflow: manifest path "${m}" is not a safe relative path`);
  const trivy = args.trivyImage ?? images.trivy;
  checkImage(trivy);
  const dockerVersion = args.dockerCliVersion ?? DOCKER_CLI_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(dockerVersion)) throw new Error(`releaseWorkflow: docker CLI version must be x.y.z, got "${dockerVersion}"`);
  const dockerSums = DOCKER_CLI_SHA256[dockerVersion];
  if (!dockerSums) throw new Error(`releaseWorkflow: no sha256 pinned for Docker CLI ${dockerVersion} (DOCKER_CLI_SHA256 in components/lib/versions.ts)`);
  const appDir = args.appDir ?? "app";
  const org = args.org ?? BOOTSTRAP_ORG;
  const repo = args.repo ?? BOOTSTRAP_REPO;
  const registry = args.ctx.endpoints.registry.host;
  const imageRef = `${registry}/${args.image}`;
  const pushUrl = `${server.protocol}//oauth2:\${CI_TOKEN}@${server.host}/${org}/${repo}.git`;
  const bash = (lines: string[]) => `set -euo pipefail\n${lines.join("\n")}\n`;
  const workflow = {
    name: "release",
    on: { push: { branches: ["main"], paths: [`${appDir}/**`], tags: ["v*"] } },
    env: { IMAGE: imageRef, REGISTRY: registry },
    jobs: {
      release: {
        "runs-on": args.runsOn ?? "ubuntu-latest",
        steps: [
          // PM-24: job containers reach Gitea on the runner URL; credentials are not persisted so
          // the later push uses CI_TOKEN alone (PM-03).
          { name: "checkout", uses: CHECKOUT_ACTION, with: { "github-server-url": args.serverUrl, "persist-credentials": false } },
          // The job image (node) has git and node but no docker CLI; the daemon is the runner's dind
          // (DOCKER_HOST). download.docker.com static builds: x86_64 and aarch64, each checked against
          // its pinned sha256 before it is unpacked (#14: Docker publishes no checksum file there).
          { name: "docker-cli", shell: "bash", run: bash([
            "if command -v docker >/dev/null; then exit 0; fi",
            'dir="$HOME/.docker-cli"; mkdir -p "$dir"',
            `case "$(uname -m)" in x86_64) sum=${dockerSums.x86_64} ;; aarch64) sum=${dockerSums.aarch64} ;; *) echo "no pinned Docker CLI for $(uname -m)" >&2; exit 1 ;; esac`,
            `curl -fsSL -o "$dir/docker.tgz" "https://download.docker.com/linux/static/stable/$(uname -m)/docker-${dockerVersion}.tgz"`,
            'echo "$sum  $dir/docker.tgz" | sha256sum -c -',
            'tar -xzf "$dir/docker.tgz" -C "$dir" --strip-components=1 docker/docker && rm -f "$dir/docker.tgz"',
            'echo "$dir" >> "$GITHUB_PATH"',
          ]) },
          { name: "version", id: "version", shell: "bash", run: bash([
            'sha="$(git rev-parse --short=12 HEAD)"',
            'if [[ "${GITHUB_REF}" == refs/tags/v* ]]; then version="${GITHUB_REF#refs/tags/v}"',
            `else version="$(cat ${args.versionFile ?? `${appDir}/VERSION`})-main.\${GITHUB_RUN_NUMBER}"; fi`,
            'if ! [[ "$version" =~ ^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then echo "not a semver: $version" >&2; exit 1; fi',
            'echo "version=$version" >> "$GITHUB_OUTPUT"', 'echo "sha=$sha" >> "$GITHUB_OUTPUT"',
          ]) },
          { name: "test", shell: "bash", run: bash([`docker build --target test ${appDir}`]) },
          { name: "build", shell: "bash", run: bash([
            `docker build -t "$IMAGE:\${{ steps.version.outputs.version }}" -t "$IMAGE:\${{ steps.version.outputs.sha }}" ${appDir}`,
          ]) },
          // The scanner runs as a container on the same daemon; the image goes in as a tarball,
          // which works whatever docker host (dind) the runner uses. Fixable HIGH/CRITICAL fail.
          { name: "scan", shell: "bash", run: bash([
            'docker save "$IMAGE:${{ steps.version.outputs.sha }}" -o image.tar',
            `cid="$(docker create ${trivy} image --input /tmp/image.tar --severity HIGH,CRITICAL --ignore-unfixed --exit-code 1 --no-progress)"`,
            'docker cp image.tar "$cid:/tmp/image.tar"',
            'rc=0; docker start -a "$cid" || rc=$?', 'docker rm "$cid" >/dev/null; rm -f image.tar', 'exit "$rc"',
          ]) },
          { name: "push", shell: "bash",
            env: { REGISTRY_USERNAME: "${{ secrets.REGISTRY_USERNAME }}", REGISTRY_PASSWORD: "${{ secrets.REGISTRY_PASSWORD }}" },
            run: bash([
              'printf \'%s\' "$REGISTRY_PASSWORD" | docker login "$REGISTRY" --username "$REGISTRY_USERNAME" --password-stdin',
              'docker push "$IMAGE:${{ steps.version.outputs.version }}"', 'docker push "$IMAGE:${{ steps.version.outputs.sha }}"',
            ]) },
          // PM-31: the image changes through Git; Argo CD syncs the bumped manifest.
          { name: "bump", shell: "bash", env: { CI_TOKEN: "${{ secrets.CI_TOKEN }}" }, run: bash([
            `push_url="${pushUrl}"`,
            'git fetch -q "$push_url" main && git checkout -q -B main FETCH_HEAD',
            ...args.manifests.map((m) => `sed -i -E "s#(image: *\\"?)${reEscape(imageRef)}(:[^\\"[:space:]]+)?#\\1$IMAGE:\${{ steps.version.outputs.version }}#" ${m}`),
            `git add ${args.manifests.join(" ")}`,
            'if git diff --cached --quiet; then echo "manifests already at this version"; exit 0; fi',
            'git -c user.name=platform-ci -c user.email=ci@platform.internal commit -q -m "release: $IMAGE:${{ steps.version.outputs.version }}"',
            'git push -q "$push_url" HEAD:main',
          ]) },
        ],
      },
    },
  };
  return stableYaml(workflow);
}

export interface BootstrapRepoArgs {
  readonly ctx: ClusterContext;
  /** Gitea admin user the Job authenticates as. */
  readonly adminUsername: pulumi.Input<string>;
  /** Its password (secret): reaches the pod only through a Secret and secretKeyRef. */
  readonly adminPassword: pulumi.Input<string>;
  /** Password of GIT_READER_USER (secret), which Argo CD reads Git with; the Job sets it (#14.1). */
  readonly readerPassword: pulumi.Input<string>;
  /** Password of CI_BOT_USER (secret); the Job sets it and creates the bot's CI_TOKEN with it (#14.1). */
  readonly botPassword: pulumi.Input<string>;
  /**
   * Files the stack renders and owns in Git, path -> text (deploy/<environment>/*, argocd/*.yaml,
   * .gitea/workflows/release.yaml): pushed first, then committed again whenever they change.
   */
  readonly files: pulumi.Input<Record<string, string>>;
  /** Files pushed into the empty repository only (app/**): the user's from then on. @default {} */
  readonly initialFiles?: Record<string, string>;
  /** Images whose tag in the owned files CI bumps: a re-render keeps the tag Git has. @default [] */
  readonly keepImageTags?: readonly string[];
  /** CI's registry push password (REGISTRY_PUSH_USER, secret) stored as the Actions secret REGISTRY_PASSWORD. @default none */
  readonly registryPassword?: pulumi.Input<string>;
  /**
   * Key of the registry password's fingerprint in the Job's content hash (PlatformSecrets.fingerprintKey):
   * a rotation runs the Job again, which stores the new REGISTRY_PASSWORD. Required with registryPassword.
   */
  readonly fingerprintKey?: pulumi.Input<string>;
  /** @default BOOTSTRAP_ORG */
  readonly org?: string;
  /** @default BOOTSTRAP_REPO */
  readonly repo?: string;
  /** @default BOOTSTRAP_IMAGE */
  readonly image?: string;
  /** Resources the Job must wait for (Gitea). @default [] */
  readonly dependsOn?: readonly pulumi.Resource[];
  /**
   * The runner's registration-token Secret (issue 14): the Job fetches the org's token and applies
   * it there, with a ServiceAccount whose Role allows that one Secret only. `after`: the namespace.
   */
  readonly runnerToken?: RunnerTokenTarget & { readonly after: readonly pulumi.Resource[] };
}

export class BootstrapRepo extends pulumi.ComponentResource {
  public readonly repoUrl: string;
  public readonly jobName: pulumi.Output<string>;
  public readonly job: pulumi.CustomResource;

  constructor(name: string, args: BootstrapRepoArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:gitops:BootstrapRepo", name, {}, opts);
    const { ctx } = args;
    // Gitea's namespace, whose policies (traffic.ts: bootstrap-job-to-gitea) the Gitea component registers.
    const ns = ctx.endpoints.gitea.namespace;
    const org = args.org ?? BOOTSTRAP_ORG;
    const repo = args.repo ?? BOOTSTRAP_REPO;
    const image = args.image ?? BOOTSTRAP_IMAGE;
    const overlays = ctx.profile.overlays;
    const after = { parent: this, dependsOn: [...(args.dependsOn ?? [])] };
    this.repoUrl = repoUrl(ctx, org, repo);
    const script = readScript(SCRIPT);
    const tokenScript = readScript(RUNNER_TOKEN_SCRIPT);

    const secret = registerObject({
      apiVersion: "v1", kind: "Secret", metadata: { name: `${name}-credentials`, namespace: ns }, type: "Opaque",
      stringData: {
        username: args.adminUsername, password: pulumi.secret(args.adminPassword),
        "reader-password": pulumi.secret(args.readerPassword), "bot-password": pulumi.secret(args.botPassword),
        ...(args.registryPassword ? { "registry-password": pulumi.secret(args.registryPassword) } : {}),
      },
    }, overlays, after);
    const scriptCm = registerObject({
      apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${name}-script`, namespace: ns }, data: { "bootstrap-repo.sh": script, "runner-token.sh": tokenScript },
    }, overlays, after);
    // The Job's own account, allowed only to apply the runner's token Secret (runnerTokenRbac).
    const target = args.runnerToken;
    const serviceAccount = `${name}-job`;
    const rbac = target
      ? [runnerTokenServiceAccount(ns, serviceAccount), ...runnerTokenRbac(ns, serviceAccount, target)].map((o) =>
        registerObject(o, overlays, { parent: this, dependsOn: [...after.dependsOn, ...(o.kind === "ServiceAccount" ? [] : target.after)] }))
      : [];
    if (args.registryPassword && args.fingerprintKey === undefined) throw new Error("BootstrapRepo: registryPassword needs fingerprintKey (a rotation must run the Job again)");
    // The Actions secret REGISTRY_PASSWORD is written only when the Job runs: a new password must
    // give a new Job. Keyed, so the Job's name tells nothing about the password.
    const registryFingerprint = args.registryPassword
      ? clusterFingerprint(args.fingerprintKey!, "bootstrap-registry-password", args.registryPassword)
      : pulumi.output("none");
    // The Job sets the reader's and the bot's passwords: a rotation of either runs it again (#14.1).
    if (args.fingerprintKey === undefined) throw new Error("BootstrapRepo: fingerprintKey is required (a rotated reader or bot password must run the Job again)");
    const usersFingerprint = pulumi.all([
      clusterFingerprint(args.fingerprintKey, "bootstrap-reader-password", args.readerPassword),
      clusterFingerprint(args.fingerprintKey, "bootstrap-bot-password", args.botPassword),
    ]).apply(([r, b]) => `${r}.${b}`);
    const keepTags = [...(args.keepImageTags ?? [])];
    const content = pulumi.all([args.files, registryFingerprint, usersFingerprint]).apply(([f, registry, users]) =>
      contentConfig(f, [script, image, org, repo, String(!!args.registryPassword), `registry=${registry}`, `keep=${keepTags.join(" ")}`, `users=${users}`,
        ...(target ? [tokenScript, `runner-token=${target.namespace}/${target.secretName}/${target.key}`] : [])], args.initialFiles ?? {}));
    const contentCm = registerObject({
      apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${name}-content`, namespace: ns }, data: content.data,
    }, overlays, after);

    // A content change (or a new registry password) gives a new name, so Pulumi replaces the Job and
    // it runs again; unchanged content leaves the completed Job alone, and a failed one is replaced
    // (JOB_ANNOTATIONS). The name may be unknown at preview, so the Pulumi name is static and the
    // Job is registered directly (overlays still applied).
    this.jobName = pulumi.interpolate`${name}-${content.hash}`;
    const job = applyOverlays(bootstrapJob({
      ctx, name: this.jobName, namespace: ns, image, secretName: `${name}-credentials`,
      scriptConfigMap: `${name}-script`, contentConfigMap: `${name}-content`, org, repo, withRegistrySecret: !!args.registryPassword,
      keepImageTags: keepTags,
      ...(target ? { runnerToken: { namespace: target.namespace, secretName: target.secretName, key: target.key, serviceAccount } } : {}),
    }), overlays);
    const { apiVersion: _a, kind: _k, ...jobSpec } = job;
    this.job = new k8s.batch.v1.Job(`job-${ns}-${name}`, jobSpec as k8s.batch.v1.JobArgs, {
      parent: this, dependsOn: [...after.dependsOn, secret, scriptCm, contentCm, ...rbac],
      // Gitea may still be starting: the script waits up to WAIT_SECONDS, Pulumi waits for completion.
      customTimeouts: { create: "25m", update: "25m" },
    });
    this.registerOutputs({ repoUrl: this.repoUrl, jobName: this.jobName });
  }
}
