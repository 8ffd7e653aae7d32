// A PostgreSQL StatefulSet and everything a client needs to reach it, derived from ONE object
// (PM-23): the host in the client's Secret, the client's egress policy and the database's ingress
// policy all come from the same Service, pod labels and named port, so they cannot disagree.
// The password never sits in these objects: they reference a Secret the stack creates
// (databasePasswordSecret), so the rest can be rendered into Git.
import * as pulumi from "@pulumi/pulumi";
import { Resources } from "../lib/budget";
import { readScript } from "../lib/scripts";
import { container, K8sObject, podSecurityContext, service } from "../lib/k8s";
import { allowEgress, allowIngress } from "../lib/network";
import { images } from "../lib/versions";

/**
 * The Debian postgres image's user and group (docker-library/postgres 17/trixie/Dockerfile:
 * `groupadd -r postgres --gid=999; useradd -r -g postgres --uid=999`). Running as it directly
 * makes the entrypoint skip its root-only chown/gosu steps.
 */
export const POSTGRES_UID = 999;
/** The port the image documents (EXPOSE 5432), named for Services and policies (PM-06). */
export const POSTGRES_PORT_NAME = "postgres";
const DATA_DIR = "/var/lib/postgresql/data";

/**
 * The password-sync container (scripts/db-password-sync.sh): applies the mounted Secret to the role
 * whenever it changes, so a rotation reaches a database initialised with an older password, with
 * no restart and nothing changed in Git. Its probes read the files the script keeps.
 */
export const PASSWORD_SYNC = {
  container: "password-sync",
  script: "apps/scripts/db-password-sync.sh",
  stateDir: "/var/lib/db-sync",
  /** Where the database and its clients mount the password Secret (one key, as file `password`). */
  mountPath: "/var/run/secrets/platform/database",
  file: "secret",
  intervalSeconds: 10,
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** PostgreSQL identifiers we accept unquoted: lowercase, no reserved prefix pg_. */
const PG_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const QUANTITY = /^[1-9][0-9]*(Mi|Gi|Ti)$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export interface SecretKeyRef {
  /** Secret name in the database's namespace. */
  readonly name: string;
  readonly key: string;
}

export interface DatabaseArgs {
  /** StatefulSet and Service name (DNS label, <= 50 chars so the headless Service name fits). */
  readonly name: string;
  readonly namespace: string;
  /** Database to create. */
  readonly database: string;
  /** Owner role the client connects as (the image creates it with POSTGRES_USER). */
  readonly user: string;
  /** Where the password is: a Secret created outside Git (databasePasswordSecret). */
  readonly passwordSecret: SecretKeyRef;
  /** Labels of the client pods: the only pods the database admits, the only pods allowed out to it. */
  readonly clientLabels: Record<string, string>;
  /** Requests/limits: sizeOf(size, "samplePostgres"). */
  readonly resources: Resources;
  /** @default images.postgres */
  readonly image?: string;
  /** Port the Service exposes. @default 5432 (the container always listens on the image's 5432) */
  readonly port?: number;
  /** PVC size. @default "1Gi" */
  readonly storage?: string;
  /** @default the cluster's default StorageClass (local-path on K3s/k3d) */
  readonly storageClassName?: string;
  /** Labels of the database pods. @default { "app.kubernetes.io/name": name, "app.kubernetes.io/component": "database" } */
  readonly labels?: Record<string, string>;
  /** Requests/limits of the password-sync container: sizeOf(size, "samplePasswordSync"). */
  readonly syncResources: Resources;
}

export interface Database {
  /** `<service>.<namespace>.svc.cluster.local`: the one host clients use. */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly passwordSecret: SecretKeyRef;
  readonly podLabels: Record<string, string>;
  readonly statefulSet: K8sObject;
  /** ClusterIP Service the clients connect to. */
  readonly service: K8sObject;
  /** Governing Service of the StatefulSet (stable pod DNS names). */
  readonly headlessService: K8sObject;
  /** DATABASE_HOST, DATABASE_PORT, DATABASE_NAME, DATABASE_USER: no credential, safe in Git. */
  readonly clientSecret: K8sObject;
  readonly clientEgressPolicy: K8sObject;
  readonly serverIngressPolicy: K8sObject;
  /**
   * For the client container: envFrom the client Secret; DATABASE_PASSWORD_FILE, the mounted
   * Secret read at each connection (follows a rotation), and DATABASE_PASSWORD by secretKeyRef for
   * clients that read only the environment (fixed at start).
   */
  readonly clientEnvFrom: Record<string, unknown>[];
  readonly clientEnv: Record<string, unknown>[];
  /** The client pod's volume and the container's mount for DATABASE_PASSWORD_FILE. */
  readonly clientVolumes: Record<string, unknown>[];
  readonly clientVolumeMounts: Record<string, unknown>[];
  /** Every object above, in apply order. */
  readonly objects: K8sObject[];
}

function checkLabels(labels: Record<string, string>, what: string): void {
  if (!labels || Object.keys(labels).length === 0) throw new Error(`${what}: labels must not be empty (an empty selector matches every pod)`);
  for (const [k, v] of Object.entries(labels)) {
    if (!k || typeof v !== "string" || !LABEL_VALUE.test(v)) throw new Error(`${what}: invalid label ${k}=${v}`);
  }
}

function checkArgs(args: DatabaseArgs): void {
  const what = `database ${args.name}`;
  if (typeof args.name !== "string" || args.name.length > 50 || !DNS_LABEL.test(args.name)) throw new Error(`${what}: name must be a DNS label of at most 50 characters`);
  if (typeof args.namespace !== "string" || args.namespace.length > 63 || !DNS_LABEL.test(args.namespace)) throw new Error(`${what}: namespace "${args.namespace}" is not a DNS label`);
  for (const [field, value] of [["database", args.database], ["user", args.user]] as const) {
    if (typeof value !== "string" || !PG_IDENT.test(value) || value.startsWith("pg_")) {
      throw new Error(`${what}: ${field} "${value}" must be a lowercase PostgreSQL identifier ([a-z_][a-z0-9_]*, not pg_*)`);
    }
  }
  const ref = args.passwordSecret;
  if (!ref || !DNS_LABEL.test(ref.name ?? "") || !/^[-._A-Za-z0-9]+$/.test(ref.key ?? "")) {
    throw new Error(`${what}: passwordSecret needs a Secret name (DNS label) and key`);
  }
  const port = args.port ?? 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what}: port ${port} is out of range 1-65535`);
  const storage = args.storage ?? "1Gi";
  if (!QUANTITY.test(storage)) throw new Error(`${what}: storage "${storage}" must look like 1Gi`);
  if (args.storageClassName !== undefined && !DNS_LABEL.test(args.storageClassName)) throw new Error(`${what}: invalid storageClassName "${args.storageClassName}"`);
  checkLabels(args.clientLabels, `${what} clientLabels`);
  if (args.labels) checkLabels(args.labels, `${what} labels`);
}

/** The database and its client wiring (PM-23). Pure: no Pulumi resources. */
export function database(args: DatabaseArgs): Database {
  checkArgs(args);
  const { name, namespace: ns } = args;
  const image = args.image ?? images.postgres;
  const servicePort = args.port ?? 5432;
  const podLabels = args.labels ?? { "app.kubernetes.io/name": name, "app.kubernetes.io/component": "database" };
  const clientLabels = { ...args.clientLabels };
  if (Object.entries(podLabels).every(([k, v]) => clientLabels[k] === v)) {
    throw new Error(`database ${name}: clientLabels also select the database pods; give the client its own labels`);
  }
  const ports = [{ name: POSTGRES_PORT_NAME, containerPort: 5432 }];
  const passwordEnv = { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: args.passwordSecret.name, key: args.passwordSecret.key } } };

  const db = container({
    name: "postgres",
    image,
    ports,
    resources: args.resources,
    // Readiness by pg_isready: it fails while the server starts, recovers or refuses connections
    // (PM-11: a probe that can fail). Liveness by TCP on the named port: restart only a dead server.
    readiness: { tcp: { port: POSTGRES_PORT_NAME } }, // replaced by pg_isready below (container() builds http/tcp only)
    liveness: { tcp: { port: POSTGRES_PORT_NAME } },
    livenessTiming: { initialDelaySeconds: 30 },
    // Kept at container level: it survives the dev overlay that drops the pod securityContext (PM-21).
    runAsUser: POSTGRES_UID,
    env: [
      { name: "POSTGRES_DB", value: args.database },
      { name: "POSTGRES_USER", value: args.user },
      passwordEnv,
      // A subdirectory: provisioners that create lost+found make initdb refuse a non-empty mount.
      { name: "PGDATA", value: `${DATA_DIR}/pgdata` },
    ],
    volumeMounts: [
      { name: "data", mountPath: DATA_DIR },
      { name: "run", mountPath: "/var/run/postgresql" },
      { name: "tmp", mountPath: "/tmp" },
    ],
  });
  (db.securityContext as Record<string, unknown>).runAsGroup = POSTGRES_UID;

  // The password Secret as a file (the kubelet refreshes it in place), for password-sync and clients.
  const passwordVolume = {
    name: "db-password",
    secret: { secretName: args.passwordSecret.name, items: [{ key: args.passwordSecret.key, path: PASSWORD_SYNC.file }], defaultMode: 0o444 },
  };
  const passwordMount = { name: "db-password", mountPath: PASSWORD_SYNC.mountPath, readOnly: true };
  const passwordFile = `${PASSWORD_SYNC.mountPath}/${PASSWORD_SYNC.file}`;
  const state = (f: string) => `${PASSWORD_SYNC.stateDir}/${f}`;
  const sync: Record<string, unknown> = {
    name: PASSWORD_SYNC.container,
    image,
    imagePullPolicy: db.imagePullPolicy,
    command: ["bash", "-c", readScript(PASSWORD_SYNC.script), PASSWORD_SYNC.container],
    ports: [],
    env: [
      { name: "DB_ROLE", value: args.user },
      { name: "DB_PASSWORD_FILE", value: passwordFile },
      { name: "PGHOST", value: "/var/run/postgresql" },
      { name: "SYNC_INTERVAL", value: String(PASSWORD_SYNC.intervalSeconds) },
      { name: "SYNC_STATE_DIR", value: PASSWORD_SYNC.stateDir },
    ],
    resources: { requests: { ...args.syncResources.requests }, limits: { ...args.syncResources.limits } },
    // Ready while the mounted password is applied; alive while the loop turns (a pass every 10 s).
    readinessProbe: { exec: { command: ["test", "-f", state("ok")] }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
    livenessProbe: {
      exec: { command: ["bash", "-c", `test "$(( $(date +%s) - $(stat -c %Y ${state("alive")}) ))" -lt ${6 * PASSWORD_SYNC.intervalSeconds}`] },
      initialDelaySeconds: 30, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3,
    },
    securityContext: { ...(db.securityContext as Record<string, unknown>) },
    volumeMounts: [
      { name: "run", mountPath: "/var/run/postgresql" },
      passwordMount,
      { name: "sync-state", mountPath: PASSWORD_SYNC.stateDir },
    ],
  };
  db.readinessProbe = {
    exec: { command: ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", args.user, "-d", args.database] },
    initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3,
  };

  const headlessName = `${name}-headless`;
  const statefulSet: K8sObject = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: ns, labels: { ...podLabels } },
    spec: {
      serviceName: headlessName,
      replicas: 1,
      selector: { matchLabels: { ...podLabels } },
      template: {
        metadata: { labels: { ...podLabels } },
        spec: {
          // fsGroup makes the claim writable for uid 999; dev drops it (PM-21, local-path ignores it).
          securityContext: { ...podSecurityContext(POSTGRES_UID), runAsUser: POSTGRES_UID, runAsGroup: POSTGRES_UID },
          automountServiceAccountToken: false,
          // Postgres stops on SIGINT ("fast shutdown"); give it time to checkpoint.
          terminationGracePeriodSeconds: 60,
          containers: [db, sync],
          volumes: [
            { name: "run", emptyDir: { sizeLimit: "16Mi" } },
            { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            passwordVolume,
            { name: "sync-state", emptyDir: { sizeLimit: "1Mi" } },
          ],
        },
      },
      volumeClaimTemplates: [{
        metadata: { name: "data" },
        spec: {
          accessModes: ["ReadWriteOnce"],
          ...(args.storageClassName ? { storageClassName: args.storageClassName } : {}),
          resources: { requests: { storage: args.storage ?? "1Gi" } },
        },
      }],
    },
  };

  // Ports by name (PM-06). appProtocol tells Istio it is plain TCP, no sniffing.
  const tcp = (svc: K8sObject): K8sObject => {
    svc.spec.ports = svc.spec.ports.map((p: Record<string, unknown>) => ({ ...p, appProtocol: "tcp" }));
    return svc;
  };
  const svc = tcp(service({ name, namespace: ns, selector: { ...podLabels }, ports, servicePorts: { [POSTGRES_PORT_NAME]: servicePort } }));
  const headless = tcp(service({ name: headlessName, namespace: ns, selector: { ...podLabels }, ports }));
  headless.spec.clusterIP = "None";

  const host = `${name}.${ns}.svc.cluster.local`;
  const clientSecretName = `${name}-client`;
  const clientSecret: K8sObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: clientSecretName, namespace: ns },
    type: "Opaque",
    stringData: { DATABASE_HOST: host, DATABASE_PORT: String(servicePort), DATABASE_NAME: args.database, DATABASE_USER: args.user },
  };
  // NetworkPolicies see pod-to-pod traffic after the Service translation: the container port,
  // taken from the same ports list (numeric: not every policy engine resolves named egress ports).
  const policyPort = [{ port: ports[0].containerPort }];
  const clientEgressPolicy = allowEgress({
    name: `allow-to-${name}`, namespace: ns, podLabels: clientLabels,
    to: [{ podLabels: { ...podLabels } }], ports: policyPort,
  });
  const serverIngressPolicy = allowIngress({
    name: `allow-into-${name}`, namespace: ns, podLabels: { ...podLabels },
    from: [{ podLabels: clientLabels }], ports: policyPort,
  });

  return {
    host,
    port: servicePort,
    database: args.database,
    user: args.user,
    passwordSecret: { ...args.passwordSecret },
    podLabels: { ...podLabels },
    statefulSet,
    service: svc,
    headlessService: headless,
    clientSecret,
    clientEgressPolicy,
    serverIngressPolicy,
    clientEnvFrom: [{ secretRef: { name: clientSecretName } }],
    clientEnv: [
      { name: "DATABASE_PASSWORD_FILE", value: passwordFile },
      { name: "DATABASE_PASSWORD", valueFrom: { secretKeyRef: { name: args.passwordSecret.name, key: args.passwordSecret.key } } },
    ],
    clientVolumes: [passwordVolume],
    clientVolumeMounts: [passwordMount],
    objects: [clientSecret, serverIngressPolicy, clientEgressPolicy, headless, svc, statefulSet],
  };
}

/**
 * The password Secret the stack registers in the namespace (never rendered into Git): the value
 * is a Pulumi secret Output in stringData, so it stays encrypted in the state.
 */
export function databasePasswordSecret(db: Pick<Database, "passwordSecret" | "statefulSet">, password: pulumi.Input<string>): K8sObject {
  if (password === undefined || password === null || password === "") throw new Error("databasePasswordSecret: password is required");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: db.passwordSecret.name, namespace: db.statefulSet.metadata.namespace! },
    type: "Opaque",
    stringData: { [db.passwordSecret.key]: pulumi.secret(password) },
  };
}
