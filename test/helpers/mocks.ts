// Pulumi mock runtime for the tests: records every registered resource, answers the few invokes
// the program makes, and throws on any other so an unmocked call fails loudly.
import { createHash } from "crypto";
import { isDeepStrictEqual } from "util";
import type * as pulumiType from "@pulumi/pulumi";

export interface Created {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
  /** Provider reference (urn::id) the engine would use, when one was given or inherited. */
  readonly provider?: string;
  /** The outputs the mock answered with. */
  readonly outputs?: Record<string, any>;
}

/** The marker Pulumi wraps secret inputs in when they reach newResource. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export const MOCK_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: bW9jaw==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    client-certificate-data: bW9jaw==
    client-key-data: bW9jaw==
`;

/** What the clusters' credential reads print (cluster/kubeconfig.ts): the CA and a ServiceAccount token. */
/** What tls.PrivateKey resources named *-host-key report (a well-formed public key, a marker private key). */
export const MOCK_HOST_KEY = {
  pub: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGFRxgcfBJfK7xOlv5r75XsgtJhsQuVsX7Ou3Z7RBTDJ",
  priv: "-----BEGIN OPENSSH PRIVATE KEY-----\nmock-host-key-9d41\n-----END OPENSSH PRIVATE KEY-----\n",
} as const;

export const MOCK_CREDENTIALS = JSON.stringify({
  caData: Buffer.from("-----BEGIN CERTIFICATE-----\nmock-ca\n-----END CERTIFICATE-----\n").toString("base64"),
  token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3ViZS1zeXN0ZW06cHVsdW1pIn0.bW9jay1zaWduYXR1cmU",
});

export interface MockOptions {
  /** Added to each instance's address, to model a new public IP (a stopped and started node, a replacement). @default 0 */
  readonly ipOffset?: number;
  /** RandomPasswords (by name) that `pulumi up --replace` regenerated: they answer a new result. @default [] */
  readonly rotated?: readonly string[];
  /**
   * The previous run's registrations, as the engine has them in the state. A latch
   * (components/lib/latch.ts) whose key is unchanged answers with its previous value: its diff
   * ignores the value, so the engine keeps its outputs.
   */
  readonly previous?: readonly Created[];
  /** How many availability domains getAvailabilityDomains answers (OCI regions have 1 or 3). @default 2 */
  readonly availabilityDomains?: number;
  /** Ubuntu versions (platform:ubuntuVersion) the region has no A1 image for: getImages answers none. @default [] */
  readonly noImageFor?: readonly string[];
}

/** A stable small number per resource name, so two evaluations of a stack see the same addresses. */
function nameIndex(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 199;
  return h + 1;
}

export function mocks(created: Created[], options: MockOptions = {}): pulumiType.runtime.Mocks {
  return {
    newResource(args) {
      const state: Record<string, any> = { ...args.inputs };
      created.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider, outputs: state });
      switch (args.type) {
        case "oci:Core/instance:Instance":
          // Stable per instance, like the state a second `up` reads back.
          state.publicIp = `198.51.100.${(nameIndex(args.name) + (options.ipOffset ?? 0)) % 250 + 1}`;
          state.privateIp = `10.0.1.${nameIndex(args.name) % 240 + 11}`;
          break;
        case "command:remote:Command":
        case "command:local:Command":
          state.stdout = /-(credentials|cluster)$/.test(args.name) ? MOCK_CREDENTIALS : /kubeconfig/.test(args.name) ? MOCK_KUBECONFIG : "ok";
          break;
        case "random:index/randomPassword:RandomPassword":
          state.result = (options.rotated ?? []).includes(args.name) ? `mock-${args.name}-rotated` : `mock-${args.name}`;
          state.bcryptHash = `$2a$10$mockhashmockhashmockhashmockhashmockhashmockhashmock`;
          break;
        case "tls:index/privateKey:PrivateKey":
          if (args.name.endsWith("-host-key")) {
            // A node's SSH host key (components/host/host-keys.ts): another key than the login key.
            state.publicKeyOpenssh = MOCK_HOST_KEY.pub;
            state.privateKeyOpenssh = MOCK_HOST_KEY.priv;
            break;
          }
          state.publicKeyOpenssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAImock";
          state.privateKeyOpenssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n";
          state.privateKeyPem = `-----BEGIN PRIVATE KEY-----\nmock-${args.name}-pem\n-----END PRIVATE KEY-----\n`;
          break;
        case "tls:index/selfSignedCert:SelfSignedCert":
          state.certPem = `-----BEGIN CERTIFICATE-----\nmock-${args.name}\n-----END CERTIFICATE-----\n`;
          break;
        case "oci:Identity/customerSecretKey:CustomerSecretKey":
          // The secret half of the S3 key pair, returned once at creation (the id is the access key).
          state.key = `mock-${args.name}-secret`;
          break;
        case "pulumi-nodejs:dynamic:Resource": {
          // PasswordMtime (components/gitops/password-mtime.ts) sets its mtime in `check`, which
          // mocks skip: a time per fingerprint stands in (a new password, a new time).
          if (args.inputs.kind === "password-mtime") {
            const seconds = createHash("sha256").update(String(plain(args.inputs.fingerprint))).digest().readUInt32BE(0) % 10_000_000;
            state.mtime = new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
          }
          const before = options.previous?.find((c) => c.type === args.type && c.name === args.name);
          if (before?.outputs && "key" in args.inputs && "value" in args.inputs && isDeepStrictEqual(plain(before.inputs.key), plain(args.inputs.key))) {
            state.value = before.outputs.value;
          }
          break;
        }
        case "kubernetes:core/v1:Service":
          state.spec = { ...(args.inputs.spec ?? {}), clusterIP: args.inputs.spec?.clusterIP ?? "10.43.12.34" };
          break;
      }
      return { id: `${args.name}-id`, state };
    },
    call(args) {
      switch (args.token) {
        case "oci:Core/getImages:getImages": {
          // Newest first, as sortBy TIMECREATED / sortOrder DESC asks; another version, another image.
          const version = String(args.inputs.operatingSystemVersion);
          if ((options.noImageFor ?? []).includes(version)) return { images: [] };
          const tag = version === "24.04" ? "" : `-${version}`;
          return { images: [
            { id: `ocid1.image.oc1..mock-newest${tag}`, displayName: `Canonical-Ubuntu-${version}-aarch64-mock` },
            { id: `ocid1.image.oc1..mock-older${tag}`, displayName: `Canonical-Ubuntu-${version}-aarch64-mock-older` },
          ] };
        }
        case "oci:ObjectStorage/getNamespace:getNamespace":
          return { namespace: "mocktenancyns" };
        case "oci:Identity/getAvailabilityDomains:getAvailabilityDomains":
          return { availabilityDomains: Array.from({ length: options.availabilityDomains ?? 2 }, (_, i) => ({ name: `mock:EU-FRANKFURT-1-AD-${i + 1}` })) };
        default:
          throw new Error(`unmocked invoke ${args.token}`);
      }
    },
  };
}

export function isSecretInput(value: unknown): boolean {
  return typeof value === "object" && value !== null && SECRET_SIG in (value as object);
}

/** Paths where a string containing `needle` appears outside a secret wrapper (a plaintext leak). */
export function outsideSecrets(value: unknown, needle: string, at = ""): string[] {
  if (typeof value === "string") return value.includes(needle) ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => outsideSecrets(v, needle, `${at}[${i}]`));
  if (value && typeof value === "object") {
    if (isSecretInput(value)) return [];
    return Object.entries(value).flatMap(([k, v]) => outsideSecrets(v, needle, `${at}.${k}`));
  }
  return [];
}

/** Strips secret wrappers so tests can read values. */
export function plain<T = any>(value: any): T {
  if (Array.isArray(value)) return value.map(plain) as any;
  if (value && typeof value === "object") {
    if (SECRET_SIG in value) return plain(value.value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)])) as any;
  }
  return value;
}

/** Resolves an Output's value (mocks run with preview=false, so values are known). */
export function unwrap<T>(output: pulumiType.Output<T> | T): Promise<T> {
  const o = output as any;
  if (o && typeof o.apply === "function") return new Promise((resolve) => o.apply((v: T) => resolve(v)));
  return Promise.resolve(output as T);
}

export function findAll(created: Created[], type: string, pred: (c: Created) => boolean = () => true): Created[] {
  return created.filter((c) => c.type === type && pred(c));
}

export function find(created: Created[], type: string, pred: (c: Created) => boolean = () => true): Created {
  const all = findAll(created, type, pred);
  if (all.length !== 1) {
    throw new Error(`expected exactly one ${type}, found ${all.length}: ${created.filter((c) => c.type === type).map((c) => c.name).join(", ")}`);
  }
  return all[0];
}

/** Lets registrations still in flight under the mocks land in `created`. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
