// Pure builders for act_runner + its Docker-in-Docker sidecar. act_runner facts: gitea/act_runner
// (mirror project-mirrors/gitea-act-runner) scripts/run.sh (env-driven registration, only while
// /data/.runner is missing), internal/pkg/config/config.example.yaml (config keys), Dockerfile
// (basic image: alpine + tini, no USER).
import * as pulumi from "@pulumi/pulumi";
import { Resources } from "../lib/budget";
import { isLoopbackReference } from "../lib/endpoints";
import { checkImage, K8sObject, pullPolicyFor } from "../lib/k8s";

export const RUNNER_NAMESPACE = "gitea-runner";
export const RUNNER_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/name": "act-runner" };
export const RUNNER_CONFIG_MAP = "act-runner-config";
/**
 * The organisation-scoped registration token: written by the bootstrap Job (which fetches it from
 * Gitea's API as the org's owner), never by the stack, and read by the runner only while it has no
 * registration (/data/.runner).
 */
export const RUNNER_TOKEN_SECRET = "act-runner-registration";
export const RUNNER_TOKEN_KEY = "token";
/** Where the token Secret is mounted (GITEA_RUNNER_REGISTRATION_TOKEN_FILE: scripts/run.sh reads it). */
export const RUNNER_TOKEN_DIR = "/registration";
/**
 * dockerd listens on a unix socket in an emptyDir only the two containers mount: no TCP listener,
 * so nothing on the network (other pods, the node, jobs of other pods) reaches the daemon. act
 * bind-mounts this socket into job containers at /var/run/docker.sock (pkg/runner/run_context.go
 * getDockerDaemonSocketMountPath): jobs reach it there.
 */
export const DOCKER_SOCKET_DIR = "/run/dind";
export const DOCKER_HOST = `unix://${DOCKER_SOCKET_DIR}/docker.sock`;
/** DOCKER_HOST inside job containers: where act mounts the socket. */
export const JOB_DOCKER_HOST = "unix:///var/run/docker.sock";
/** The scope the runner registers for; a /data/.runner from another scope (an older instance-wide registration) is dropped. */
export const RUNNER_SCOPE_FILE = ".runner-scope";
/**
 * Below every MTU on the path: OCI VNICs run 9000, but flannel's VXLAN pod network is 50 bytes
 * under the node's uplink (1450 on a 1500 network, 8950 on OCI), and dockerd's default 1500 on a
 * 1450 pod interface drops large packets silently (PM-01). 1400 fits all three environments.
 */
export const DEFAULT_DIND_MTU = 1400;
const RUNNER_UID = 1000;

/** `name:docker://image` labels for the pinned job image; never a `latest` tag. */
export function runnerLabels(jobImage: string, names: readonly string[] = ["ubuntu-latest", "ubuntu-24.04"]): string[] {
  checkImage(jobImage);
  if (names.length === 0) throw new Error("runnerLabels: at least one label name is needed");
  return names.map((n) => {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(n)) throw new Error(`runnerLabels: invalid label name "${n}"`);
    return `${n}:docker://${jobImage}`;
  });
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** A Service ClusterIP usable in --add-host: a real address, not "None" (headless) and not loopback. */
export function checkClusterIP(ip: string, what: string): void {
  if (ip === "None" || ip === "") throw new Error(`${what}: Service has no ClusterIP ("${ip}"); a headless Service cannot back --add-host (PM-01)`);
  if (!IPV4.test(ip) && !/^[0-9a-f:]+$/i.test(ip)) throw new Error(`${what}: "${ip}" is not an IP address`);
  if (isLoopbackReference(ip) || ip === "0.0.0.0") throw new Error(`${what}: "${ip}" is a loopback/unspecified address (PM-01)`);
}

/** PM-24: the URL act_runner registers with is what job containers check out from: never the pod itself. */
export function checkInstanceUrl(url: string): string {
  if (!/^https?:\/\/[^/\s]+/.test(url)) throw new Error(`runner: GITEA_INSTANCE_URL must be an http(s) URL, got "${url}"`);
  if (isLoopbackReference(url)) throw new Error(`runner: GITEA_INSTANCE_URL "${url}" is loopback; job containers would reach themselves (PM-24)`);
  return url;
}

export interface HostEntry {
  readonly host: string;
  readonly ip: string;
}

export interface RunnerConfigArgs {
  /** In-cluster names job containers resolve through --add-host, with their Service ClusterIPs (PM-01). */
  readonly hosts: readonly HostEntry[];
  /** Runner labels (runnerLabels()). */
  readonly labels: readonly string[];
  /** Concurrent jobs. @default 1 */
  readonly capacity?: number;
}

export const RUNNER_START_SCRIPT = "runner-start.sh";
export const RUNNER_START_SCRIPT_PATH = `gitops/scripts/${RUNNER_START_SCRIPT}`;

/** The scope a runner registers for: `org:<name>` (never instance-wide). */
export function runnerScope(org: string): string {
  return checkScope(`org:${org}`);
}

function checkScope(scope: string): string {
  if (!/^org:[A-Za-z0-9][A-Za-z0-9._-]*$/.test(scope)) throw new Error(`runner: scope "${scope}" must be org:<organisation> (issue 14: not instance-wide)`);
  return scope;
}

/** act_runner config.yaml as an object (serialise with stableYaml). */
export function runnerConfig(args: RunnerConfigArgs): Record<string, unknown> {
  if (args.hosts.length === 0) throw new Error("runnerConfig: at least the Gitea host entry is required (PM-01)");
  for (const h of args.hosts) {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(h.host) || isLoopbackReference(h.host)) throw new Error(`runnerConfig: invalid host name "${h.host}"`);
    checkClusterIP(h.ip, `runnerConfig ${h.host}`);
  }
  if (args.labels.length === 0) throw new Error("runnerConfig: no labels; the runner would take no jobs");
  for (const l of args.labels) {
    const m = /^[^:]+:docker:\/\/(.+)$/.exec(l);
    if (!m) throw new Error(`runnerConfig: label "${l}" must be name:docker://image`);
    checkImage(m[1]);
  }
  const capacity = args.capacity ?? 1;
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`runnerConfig: capacity must be a positive integer, got ${capacity}`);
  return {
    log: { level: "info" },
    runner: {
      file: ".runner",
      capacity,
      timeout: "1h",
      insecure: false,
      fetch_timeout: "5s",
      fetch_interval: "2s",
      labels: [...args.labels],
      // Job steps that run `docker` reach the sidecar's daemon through the socket act mounts.
      envs: { DOCKER_HOST: JOB_DOCKER_HOST },
    },
    cache: { enabled: true, dir: "/data/cache", host: "", port: 0 },
    container: {
      // PM-01: job containers share the pod's network (no Docker bridge, no NAT, pod DNS) ...
      network: "host",
      // ... and resolve in-cluster names to Service ClusterIPs even where DNS search paths differ.
      options: args.hosts.map((h) => `--add-host=${h.host}:${h.ip}`).join(" "),
      privileged: false,
      valid_volumes: [],
      docker_host: DOCKER_HOST,
      force_pull: false,
    },
  };
}

/**
 * dockerd flags for the sidecar: a unix socket only (group RUNNER_UID, so the non-root act_runner
 * can use it; no TCP, so no TLS is needed), no inter-container traffic on its bridge, MTU under the
 * pod network's, plain-HTTP in-cluster registry. Not --userns-remap: it is incompatible with
 * --network=host (Docker docs, "Isolate containers with a user namespace"), which jobs use (PM-01).
 */
export function dockerdArgs(registryHost: string, mtu: number = DEFAULT_DIND_MTU): string[] {
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 1450) throw new Error(`dockerdArgs: MTU ${mtu} must be between 1280 and 1450 (below flannel's VXLAN MTU)`);
  if (isLoopbackReference(registryHost) || !/^[a-z0-9.-]+(:\d+)?$/.test(registryHost)) throw new Error(`dockerdArgs: invalid registry host "${registryHost}" (PM-15)`);
  return [
    "dockerd",
    `--host=${DOCKER_HOST}`,
    `--group=${RUNNER_UID}`,
    "--tls=false",
    "--icc=false",
    `--mtu=${mtu}`,
    `--default-network-opt=bridge=com.docker.network.driver.mtu=${mtu}`,
    `--insecure-registry=${registryHost}`,
  ];
}

export interface RunnerWorkloadArgs {
  readonly namespace: string;
  readonly name: string;
  readonly actRunnerImage: string;
  readonly dindImage: string;
  readonly actRunnerResources: Resources;
  readonly dindResources: Resources;
  /** GITEA_INSTANCE_URL (endpoints.gitea.runnerUrl), checked by checkInstanceUrl. */
  readonly instanceUrl: pulumi.Input<string>;
  /** The same names and ClusterIPs as the config's --add-host, for dockerd itself (docker push). */
  readonly hostAliases: readonly { readonly host: string; readonly ip: pulumi.Input<string> }[];
  readonly registryHost: string;
  readonly dataClaim: string;
  readonly mtu?: number;
  /** Scope the runner registers for, e.g. "org:platform" (runner-start.sh drops a registration of another scope). */
  readonly scope: string;
  /** ConfigMap with runner-start.sh. */
  readonly scriptConfigMap: string;
}

const exec = (cmd: string[], timing: Record<string, number>) => ({ exec: { command: cmd }, timeoutSeconds: 5, ...timing });

/** Deployment: act_runner (non-root) + dind (the platform's one privileged container). */
export function runnerDeployment(args: RunnerWorkloadArgs): K8sObject {
  checkImage(args.actRunnerImage);
  checkImage(args.dindImage);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: args.name, namespace: args.namespace, labels: { ...RUNNER_LABELS } },
    spec: {
      replicas: 1,
      // One registration (/data/.runner) on a ReadWriteOnce claim.
      strategy: { type: "Recreate" },
      selector: { matchLabels: { ...RUNNER_LABELS } },
      template: {
        metadata: { labels: { ...RUNNER_LABELS } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { fsGroup: RUNNER_UID, fsGroupChangePolicy: "OnRootMismatch", seccompProfile: { type: "RuntimeDefault" } },
          hostAliases: args.hostAliases.map((h) => ({ ip: h.ip, hostnames: [h.host] })),
          containers: [
            {
              name: "act-runner",
              image: args.actRunnerImage,
              imagePullPolicy: pullPolicyFor(args.actRunnerImage),
              // The image's entrypoint is tini + run.sh (act_runner Dockerfile, basic variant).
              command: ["/sbin/tini", "--", "/bin/bash", `/scripts/${RUNNER_START_SCRIPT}`],
              env: [
                { name: "GITEA_INSTANCE_URL", value: pulumi.output(args.instanceUrl).apply(checkInstanceUrl) },
                // A file (run.sh reads GITEA_RUNNER_REGISTRATION_TOKEN_FILE), so the pod starts before the
                // bootstrap Job has written the Secret, and a later token reaches it without a restart.
                { name: "GITEA_RUNNER_REGISTRATION_TOKEN_FILE", value: `${RUNNER_TOKEN_DIR}/${RUNNER_TOKEN_KEY}` },
                { name: "RUNNER_SCOPE", value: checkScope(args.scope) },
                { name: "GITEA_RUNNER_NAME", value: args.name },
                { name: "CONFIG_FILE", value: "/config/config.yaml" },
                { name: "DOCKER_HOST", value: DOCKER_HOST },
                // No passwd entry for uid 1000: act's action cache (~/.cache/act) goes to the volume.
                { name: "HOME", value: "/data" },
              ],
              resources: { requests: { ...args.actRunnerResources.requests }, limits: { ...args.actRunnerResources.limits } },
              // No HTTP endpoint: ready once registered; the file is absent while registration fails.
              readinessProbe: exec(["/bin/sh", "-c", "test -s /data/.runner"], { initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 }),
              // Alive while registered, or while still waiting for the token (runner-start.sh bounds that wait).
              livenessProbe: exec(["/bin/sh", "-c", `test -s /data/.runner || test ! -s ${RUNNER_TOKEN_DIR}/${RUNNER_TOKEN_KEY}`], { initialDelaySeconds: 120, periodSeconds: 30, failureThreshold: 4 }),
              securityContext: {
                runAsNonRoot: true, runAsUser: RUNNER_UID, runAsGroup: RUNNER_UID,
                allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
              },
              volumeMounts: [
                { name: "data", mountPath: "/data" },
                { name: "config", mountPath: "/config", readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
                { name: "docker-socket", mountPath: DOCKER_SOCKET_DIR },
                { name: "registration", mountPath: RUNNER_TOKEN_DIR, readOnly: true },
                { name: "scripts", mountPath: "/scripts", readOnly: true },
              ],
            },
            {
              name: "dind",
              image: args.dindImage,
              imagePullPolicy: pullPolicyFor(args.dindImage),
              args: dockerdArgs(args.registryHost, args.mtu),
              // Empty: the image's entrypoint must not generate TLS certs (loopback only, see dockerdArgs).
              env: [{ name: "DOCKER_TLS_CERTDIR", value: "" }],
              resources: { requests: { ...args.dindResources.requests }, limits: { ...args.dindResources.limits } },
              // A round trip to the daemon API: fails whenever dockerd is down or wedged (PM-11).
              readinessProbe: exec(["docker", `--host=${DOCKER_HOST}`, "version"], { initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 }),
              livenessProbe: exec(["docker", `--host=${DOCKER_HOST}`, "version"], { initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 6 }),
              // Docker-in-Docker needs a privileged container: the only one of the platform. Rootless
              // dind needs it too on Kubernetes, and rootless BuildKit cannot run act's job containers
              // (README, security: what remains).
              securityContext: { privileged: true, runAsNonRoot: false, runAsUser: 0 },
              volumeMounts: [{ name: "docker", mountPath: "/var/lib/docker" }, { name: "docker-socket", mountPath: DOCKER_SOCKET_DIR }],
            },
          ],
          volumes: [
            { name: "data", persistentVolumeClaim: { claimName: args.dataClaim } },
            { name: "config", configMap: { name: RUNNER_CONFIG_MAP } },
            { name: "tmp", emptyDir: {} },
            { name: "docker", emptyDir: {} },
            // The daemon's socket: shared by these two containers only, never a host path.
            { name: "docker-socket", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            // Optional: the pod starts before the bootstrap Job writes it (runner-start.sh waits).
            { name: "registration", secret: { secretName: RUNNER_TOKEN_SECRET, optional: true, defaultMode: 0o440 } },
            { name: "scripts", configMap: { name: args.scriptConfigMap, defaultMode: 0o555 } },
          ],
        },
      },
    },
  };
}
