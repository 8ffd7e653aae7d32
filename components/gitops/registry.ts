// The image registry (distribution v3, official image `registry`): htpasswd (bcrypt) auth from a
// platform secret, a PVC, and the NodePort that every node's containerd mirror points at (PM-04,
// PM-13). Two instances over that PVC (#14.1): read-only for the pull user behind the NodePort,
// read-write for CI's push user behind an in-cluster Service. Plus the pull-secret builder every
// application namespace uses (PM-13).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ClusterContext } from "../lib/context";
import { Endpoints, isLoopbackReference, REGISTRY_PUSH_USER, REGISTRY_USER } from "../lib/endpoints";
import { htpasswdLine } from "../lib/hash";
import { checkImage, container, K8sObject, namespace, podSecurityContext, service } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { sizeOf } from "../lib/sizes";
import { images } from "../lib/versions";
import { policiesIn } from "../traffic";

export const REGISTRY_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/name": "registry" };
/** Name of the kubernetes.io/dockerconfigjson Secret in every application namespace (PM-13). */
export const REGISTRY_PULL_SECRET = "registry-pull";
/** htpasswd of the pull user (read-only instance). */
export const REGISTRY_HTPASSWD_SECRET = "registry-htpasswd";
/** htpasswd of CI's push user (read-write instance). */
export const REGISTRY_PUSH_HTPASSWD_SECRET = "registry-htpasswd-push";
export const REGISTRY_DATA_CLAIM = "registry-data";
/** The image has no USER (root); any non-root uid works with an fsGroup-owned volume. */
const REGISTRY_UID = 1000;

function checkHost(host: string): void {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/.test(host)) throw new Error(`registry host "${host}" must be host[:port], without scheme or path`);
  if (isLoopbackReference(host)) throw new Error(`registry host "${host}" is loopback: nodes and pods would resolve it to themselves (PM-15)`);
}

/** `.dockerconfigjson` content for one registry (the format kubelet and docker read). */
export function dockerConfigJson(host: string, user: string, password: string): string {
  checkHost(host);
  if (!/^[A-Za-z0-9._-]+$/.test(user)) throw new Error(`dockerConfigJson: invalid user "${user}"`);
  if (password.length === 0) throw new Error("dockerConfigJson: empty password (PM-13: pulls would get 401)");
  const auth = Buffer.from(`${user}:${password}`).toString("base64");
  return JSON.stringify({ auths: { [host]: { username: user, password, auth } } });
}

/** PM-13: the pull Secret for a namespace; workloads list it in imagePullSecrets. The password stays secret. */
export function pullSecret(ns: string, host: string, user: string, password: pulumi.Input<string>): K8sObject {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(ns)) throw new Error(`pullSecret: invalid namespace "${ns}"`);
  checkHost(host);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: REGISTRY_PULL_SECRET, namespace: ns },
    type: "kubernetes.io/dockerconfigjson",
    stringData: { ".dockerconfigjson": pulumi.secret(pulumi.output(password).apply((p) => dockerConfigJson(host, user, p))) },
  };
}

/** PM-04/PM-15: an image in our registry, named by the host every node's containerd maps. */
export function registryImage(ep: Pick<Endpoints, "registry">, repository: string, tag: string): string {
  if (!/^[a-z0-9]+([._/-][a-z0-9]+)*$/.test(repository)) throw new Error(`registryImage: invalid repository "${repository}"`);
  const image = `${ep.registry.host}/${repository}:${tag}`;
  checkImage(image);
  return image;
}

export interface RegistryWorkloadArgs {
  readonly namespace: string;
  readonly image: string;
  /** The read-only (pull) container's. */
  readonly resources: ReturnType<typeof sizeOf>;
  /** The read-write (push) container's. @default resources */
  readonly pushResources?: ReturnType<typeof sizeOf>;
  /** The read-only instance's port (the NodePort Service's target). */
  readonly port: number;
  /** The read-write instance's port (the push Service's target). */
  readonly pushPort: number;
}

/** The image's debug listener (http.debug.addr :5001 in the registry:3 config); moved for the second instance. */
const DEBUG_PORT = 5001;

/**
 * One registry container. distribution's htpasswd auth only authenticates: any user it knows may
 * push (#14.1). Hence two instances over one storage: `registry` is read-only
 * (storage.maintenance.readonly, pushes get 405) and knows the pull user only; `registry-push`
 * is read-write and knows CI's push user only.
 */
function registryContainer(name: "registry" | "registry-push", port: number, readOnly: boolean, image: string, resources: ReturnType<typeof sizeOf>, debugPort: number): Record<string, unknown> {
  return container({
    name,
    image,
    ports: [{ name: readOnly ? "registry" : "push", containerPort: port }],
    resources,
    // GET / is answered 200 without auth by distribution's `alive` handler, wrapped in its health
    // handler: 503 once the storage driver check fails (distribution registry/registry.go).
    readiness: { http: { path: "/", port: readOnly ? "registry" : "push" } },
    runAsUser: REGISTRY_UID,
    env: [
      { name: "REGISTRY_HTTP_ADDR", value: `:${port}` },
      // The two containers share the pod's network: each its own debug listener.
      { name: "REGISTRY_HTTP_DEBUG_ADDR", value: `:${debugPort}` },
      { name: "REGISTRY_AUTH", value: "htpasswd" },
      { name: "REGISTRY_AUTH_HTPASSWD_REALM", value: "platform-registry" },
      { name: "REGISTRY_AUTH_HTPASSWD_PATH", value: "/auth/htpasswd" },
      { name: "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", value: "/var/lib/registry" },
      ...(readOnly
        // A map value: REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED alone panics ("readonly config
        // key must contain additional keys"; distribution 2.8, test/real-registry.test.ts). The
        // writer purges stale uploads; the reader must not.
        ? [
          { name: "REGISTRY_STORAGE_MAINTENANCE_READONLY", value: "{\"enabled\": true}" },
          { name: "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING", value: "{\"enabled\": false}" },
        ]
        : [{ name: "REGISTRY_STORAGE_DELETE_ENABLED", value: "true" }]),
      { name: "REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", value: "true" },
      { name: "REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL", value: "10s" },
      { name: "REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", value: "3" },
      // v3 initialises OpenTelemetry; with no collector it would retry exports forever.
      { name: "OTEL_TRACES_EXPORTER", value: "none" },
    ],
    volumeMounts: [
      { name: "data", mountPath: "/var/lib/registry", ...(readOnly ? { readOnly: true } : {}) },
      { name: readOnly ? "auth" : "auth-push", mountPath: "/auth", readOnly: true },
      { name: readOnly ? "tmp" : "tmp-push", mountPath: "/tmp" },
    ],
  });
}

/** The registry Deployment: a read-only and a read-write instance over one volume (#14.1). */
export function registryDeployment(args: RegistryWorkloadArgs): K8sObject {
  if (args.port === args.pushPort || [args.port, args.pushPort].includes(DEBUG_PORT) || [args.port, args.pushPort].includes(DEBUG_PORT + 2)) {
    throw new Error(`registryDeployment: ports ${args.port}/${args.pushPort} collide with each other or the debug listeners ${DEBUG_PORT}/${DEBUG_PORT + 2}`);
  }
  const pull = registryContainer("registry", args.port, true, args.image, args.resources, DEBUG_PORT);
  const push = registryContainer("registry-push", args.pushPort, false, args.image, args.pushResources ?? args.resources, DEBUG_PORT + 2);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "registry", namespace: args.namespace, labels: { ...REGISTRY_LABELS } },
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: { matchLabels: { ...REGISTRY_LABELS } },
      template: {
        metadata: { labels: { ...REGISTRY_LABELS } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurityContext(REGISTRY_UID),
          containers: [pull, push],
          volumes: [
            { name: "data", persistentVolumeClaim: { claimName: REGISTRY_DATA_CLAIM } },
            { name: "auth", secret: { secretName: REGISTRY_HTPASSWD_SECRET } },
            { name: "auth-push", secret: { secretName: REGISTRY_PUSH_HTPASSWD_SECRET } },
            { name: "tmp", emptyDir: {} },
            { name: "tmp-push", emptyDir: {} },
          ],
        },
      },
    },
  };
}

export interface RegistryArgs {
  readonly ctx: ClusterContext;
  /** Password of REGISTRY_USER, the pull user (secret); hashed into htpasswd inside an apply, so it stays secret. */
  readonly password: pulumi.Input<string>;
  /** Password of REGISTRY_PUSH_USER, CI's push user (secret). */
  readonly pushPassword: pulumi.Input<string>;
  /** PVC size. @default "10Gi" */
  readonly storageSize?: string;
}

export class Registry extends pulumi.ComponentResource {
  public readonly namespace: string;
  public readonly service: k8s.core.v1.Service;
  /** ClusterIP of the push Service: the runner maps the registry name to it (--add-host, hostAliases). */
  public readonly clusterIP: pulumi.Output<string>;
  /** The name images are referenced by (PM-04). */
  public readonly host: string;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:gitops:Registry", name, {}, opts);
    const { ctx } = args;
    const ep = ctx.endpoints.registry;
    const ns = ep.namespace;
    const size = args.storageSize ?? "10Gi";
    if (!/^[1-9][0-9]*(Mi|Gi|Ti)$/.test(size)) throw new Error(`Registry: storageSize "${size}" must look like 10Gi`);
    const reg = (obj: K8sObject, dependsOn: pulumi.Resource[] = []) => registerObject(obj, ctx.profile.overlays, { parent: this, dependsOn });

    const nsRes = reg(namespace({ name: ns, podSecurity: "restricted" }));
    // Pushes from the runner, pulls through the NodePort (traffic.ts).
    for (const np of policiesIn(ctx, ns)) reg(np, [nsRes]);

    const htpasswd = reg({
      apiVersion: "v1", kind: "Secret",
      metadata: { name: REGISTRY_HTPASSWD_SECRET, namespace: ns },
      type: "Opaque",
      // Deterministic bcrypt salt (hash.ts): the same password gives the same line on every preview.
      // A rotation updates this Secret in place and needs no restart: distribution reads the file
      // again when its mtime changes, which the kubelet's refresh of the mount does
      // (registry/auth/htpasswd/access.go, v2.8.3 and v3.1.1; test/registry-reload.test.ts).
      stringData: { htpasswd: pulumi.secret(pulumi.output(args.password).apply((p) => `${htpasswdLine(REGISTRY_USER, p, `registry/${REGISTRY_USER}`)}\n`)) },
    }, [nsRes]);
    const pushHtpasswd = reg({
      apiVersion: "v1", kind: "Secret",
      metadata: { name: REGISTRY_PUSH_HTPASSWD_SECRET, namespace: ns },
      type: "Opaque",
      stringData: { htpasswd: pulumi.secret(pulumi.output(args.pushPassword).apply((p) => `${htpasswdLine(REGISTRY_PUSH_USER, p, `registry/${REGISTRY_PUSH_USER}`)}\n`)) },
    }, [nsRes]);
    const pvc = reg({
      apiVersion: "v1", kind: "PersistentVolumeClaim",
      metadata: { name: REGISTRY_DATA_CLAIM, namespace: ns },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } } },
    }, [nsRes]);
    const deployment = registryDeployment({
      namespace: ns, image: images.registry, port: ep.port, pushPort: ep.pushPort,
      resources: sizeOf(ctx.profile.size, "registry"), pushResources: sizeOf(ctx.profile.size, "registryPush"),
    });
    reg(deployment, [htpasswd, pushHtpasswd, pvc]);
    this.service = reg(service({
      name: ep.service, namespace: ns, selector: { ...REGISTRY_LABELS },
      ports: [{ name: "registry", containerPort: ep.port }],
      type: "NodePort", nodePorts: { registry: ctx.endpoints.ports.registry },
    }), [nsRes]) as k8s.core.v1.Service;
    // CI's push endpoint: in-cluster only (no NodePort), on the same port as the name images carry.
    const push = reg(service({
      name: ep.pushService, namespace: ns, selector: { ...REGISTRY_LABELS },
      ports: [{ name: "push", containerPort: ep.pushPort }], servicePorts: { push: ep.port },
    }), [nsRes]) as k8s.core.v1.Service;

    this.namespace = ns;
    this.host = ep.host;
    this.clusterIP = push.spec.clusterIP;
    this.registerOutputs({ namespace: ns, host: this.host, clusterIP: this.clusterIP });
  }
}
