// Pulumi mock runtime for the tests: records every registered resource, answers the few invokes
// the program makes, and throws on any other so an unmocked call fails loudly.
import type * as pulumiType from "@pulumi/pulumi";

export interface Created {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
  /** Provider reference (urn::id) the engine would use, when one was given or inherited. */
  readonly provider?: string;
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

export interface MockOptions {
  /** Added to each instance's address, to model a new public IP (a stopped and started node, a replacement). @default 0 */
  readonly ipOffset?: number;
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
      created.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
      const state: Record<string, any> = { ...args.inputs };
      switch (args.type) {
        case "oci:Core/instance:Instance":
          // Stable per instance, like the state a second `up` reads back.
          state.publicIp = `198.51.100.${(nameIndex(args.name) + (options.ipOffset ?? 0)) % 250 + 1}`;
          state.privateIp = `10.0.1.${nameIndex(args.name) % 240 + 11}`;
          break;
        case "command:remote:Command":
        case "command:local:Command":
          state.stdout = /kubeconfig|cluster/.test(args.name) ? MOCK_KUBECONFIG : "ok";
          break;
        case "random:index/randomPassword:RandomPassword":
          state.result = `mock-${args.name}`;
          state.bcryptHash = `$2a$10$mockhashmockhashmockhashmockhashmockhashmockhashmock`;
          break;
        case "tls:index/privateKey:PrivateKey":
          state.publicKeyOpenssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAImock";
          state.privateKeyOpenssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n";
          break;
        case "oci:Identity/customerSecretKey:CustomerSecretKey":
          // The secret half of the S3 key pair, returned once at creation (the id is the access key).
          state.key = `mock-${args.name}-secret`;
          break;
        case "kubernetes:core/v1:Service":
          state.spec = { ...(args.inputs.spec ?? {}), clusterIP: args.inputs.spec?.clusterIP ?? "10.43.12.34" };
          break;
      }
      return { id: `${args.name}-id`, state };
    },
    call(args) {
      switch (args.token) {
        case "oci:Core/getImages:getImages":
          return { images: [{ id: "ocid1.image.oc1..mock-newest", displayName: "Canonical-Ubuntu-24.04-aarch64-mock" }] };
        case "oci:ObjectStorage/getNamespace:getNamespace":
          return { namespace: "mocktenancyns" };
        case "oci:Identity/getAvailabilityDomains:getAvailabilityDomains":
          return { availabilityDomains: [{ name: "mock:EU-FRANKFURT-1-AD-1" }, { name: "mock:EU-FRANKFURT-1-AD-2" }] };
        default:
          throw new Error(`unmocked invoke ${args.token}`);
      }
    },
  };
}

export function isSecretInput(value: unknown): boolean {
  return typeof value === "object" && value !== null && SECRET_SIG in (value as object);
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
