// PM-13 against a real distribution registry (Debian's docker-registry, 2.8) on 127.0.0.1: the
// Registry component's environment and the htpasswd Secret it generates, over the config file the
// official registry:3 image ships. Only paths and the listen address are moved to the test's.
//
// 2.8 here, registry:3 in the cluster; what differs for this configuration:
// - config file: the v3 image reads /etc/distribution/config.yml (distribution/distribution-library-image
//   config-example.yml), Debian's 2.8 /etc/docker/registry/config.yml;
// - `storage.tag.concurrencylimit` (in the v3 image's file) is v3 only: 2.8 refuses the whole file
//   ("must provide exactly one storage type. Provided: [filesystem tag]"), so it is left out here;
// - OTEL_TRACES_EXPORTER (our env, for v3's OpenTelemetry) means nothing to 2.8;
// - the same in both (distribution v2.8.3 and v3.1.1 sources): REGISTRY_* env overrides applied in
//   name order, htpasswd auth (bcrypt only; a missing file is created with a random `docker` user),
//   GET / answered 200 by the `alive` handler behind the storage health check. (REGISTRY_AUTH itself
//   is redundant: the _REALM/_PATH overrides create auth.htpasswd on their own; without all three
//   /v2/ answers 200 unauthenticated, which the tests below catch.)
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REGISTRY_PUSH_USER, REGISTRY_USER } from "../components/lib/endpoints";
import { REGISTRY_HTPASSWD_SECRET, REGISTRY_PUSH_HTPASSWD_SECRET } from "../components/gitops/registry";
import { needs } from "./helpers/binaries";
import { testContext } from "./helpers/context";
import { Created, find, mocks, plain, settle } from "./helpers/mocks";
import { basicAuth, freePort, request, Service, startService } from "./helpers/processes";

/**
 * The registry:3 image's /etc/distribution/config.yml (distribution/distribution-library-image
 * config-example.yml at a829ed8, the newest commit fetched; its Dockerfile builds 3.0.0), without
 * what 2.8 refuses (storage.tag.concurrencylimit: 5).
 */
const IMAGE_CONFIG = {
  version: 0.1,
  log: { level: "debug", fields: { service: "registry", environment: "development" } },
  storage: { delete: { enabled: true }, cache: { blobdescriptor: "inmemory" }, filesystem: { rootdirectory: "/var/lib/registry" } },
  http: { addr: ":5000", debug: { addr: ":5001", prometheus: { enabled: true, path: "/metrics" } } },
  health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
};

// Printable ASCII incl. ':' (Basic auth splits at the first one) and quotes.
const PASSWORD = `p@ss:w0rd "quoted" \\ 'x' %20`;
const REPO = "platform/sample-api";

const tools = needs("docker-registry");

const PUSH_PASSWORD = `push "pw" \\ ${"#"}:x`;

tools.describe("PM-13 the registry's auth and storage, served by a real distribution registry", () => {
  // #14.1: the Deployment's two containers, each started as its own registry over one directory.
  let registry: Service;
  let pushRegistry: Service;
  let url: string;
  let pushUrl: string;
  let dir: string;
  const created: Created[] = [];

  beforeAll(async () => {
    pulumi.runtime.setMocks(mocks(created), "gitops-platform", "oci", false);
    const { Registry } = await import("../components/gitops/registry");
    new Registry("registry", { ctx: testContext("oci"), password: pulumi.secret(PASSWORD), pushPassword: pulumi.secret(PUSH_PASSWORD) });
    await settle(5);
    const htpasswd = (name: string) => plain(find(created, "kubernetes:core/v1:Secret", (s) => s.inputs.metadata.name === name).inputs.stringData).htpasswd;
    const deployment = find(created, "kubernetes:apps/v1:Deployment");
    const pod = plain(deployment.inputs.spec.template.spec);
    const secretOf = (volume: string) => pod.volumes.find((v: any) => v.name === volume).secret.secretName;
    expect(secretOf("auth")).toBe(REGISTRY_HTPASSWD_SECRET);
    expect(secretOf("auth-push")).toBe(REGISTRY_PUSH_HTPASSWD_SECRET);

    dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-"));
    const data = path.join(dir, "data");
    fs.mkdirSync(data);
    const config = path.join(dir, "config.yml");
    fs.writeFileSync(config, YAML.stringify(IMAGE_CONFIG));
    const start = async (name: string) => {
      const container = pod.containers.find((c: any) => c.name === name);
      expect(container.command ?? container.args).toBeUndefined(); // the image's own config file
      const byMount = Object.fromEntries(container.volumeMounts.map((m: any) => [m.mountPath, m.name]));
      const auth = path.join(dir, `auth-${name}`);
      fs.mkdirSync(auth);
      fs.writeFileSync(path.join(auth, "htpasswd"), htpasswd(secretOf(byMount["/auth"])), { mode: 0o600 });
      const moved: Record<string, string> = { "/auth": auth, "/var/lib/registry": data };
      const env: Record<string, string> = {};
      for (const { name: key, value } of container.env as { name: string; value: string }[]) {
        const mount = Object.keys(moved).find((m) => value === m || value.startsWith(`${m}/`));
        env[key] = mount ? moved[mount] + value.slice(mount.length) : value;
      }
      const port = await freePort();
      expect(env.REGISTRY_HTTP_ADDR).toBe(`:${container.ports[0].containerPort}`);
      env.REGISTRY_HTTP_ADDR = `127.0.0.1:${port}`;
      env.REGISTRY_HTTP_DEBUG_ADDR = `127.0.0.1:${await freePort()}`;
      const base = `http://127.0.0.1:${port}`;
      const service = await startService(name, tools.bin("docker-registry"), ["serve", config], {
        env: { PATH: process.env.PATH, ...env },
        ready: async () => (await request(`${base}/`, { timeoutMs: 1_000 })).status === 200,
      });
      return { service, base };
    };
    ({ service: registry, base: url } = await start("registry"));
    ({ service: pushRegistry, base: pushUrl } = await start("registry-push"));
  }, 30_000);

  afterAll(async () => {
    await registry?.stop();
    await pushRegistry?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const auth = (password = PASSWORD, user = REGISTRY_USER) => ({ Authorization: basicAuth(user, password) });

  it("GET / answers 200 without credentials: the readiness probe's path (PM-11)", async () => {
    expect((await request(`${url}/`)).status).toBe(200);
  });

  it("PM-13 /v2/ without credentials: 401 with a Basic challenge for our realm", async () => {
    const r = await request(`${url}/v2/`);
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe('Basic realm="platform-registry"');
  });

  it("PM-13 /v2/ with the platform password: 200; a wrong password or user: 401", async () => {
    expect((await request(`${url}/v2/`, { headers: auth() })).status).toBe(200);
    expect((await request(`${url}/v2/`, { headers: auth(`${PASSWORD}x`) })).status).toBe(401);
    expect((await request(`${url}/v2/`, { headers: auth(PASSWORD.slice(0, -1)) })).status).toBe(401);
    expect((await request(`${url}/v2/`, { headers: auth(PASSWORD, "docker") })).status).toBe(401);
  });

  const pushAuth = (password = PUSH_PASSWORD, user = REGISTRY_PUSH_USER) => ({ Authorization: basicAuth(user, password) });

  it("#14.1 the pull user cannot push: the read-only instance answers 405 to a blob upload, the read-write one does not know the user", async () => {
    const started = await request(`${url}/v2/${REPO}/blobs/uploads/`, { method: "POST", headers: auth() });
    expect(started.status, started.body).toBe(405);
    expect(started.body).toMatch(/method not allowed/i);
    expect((await request(`${pushUrl}/v2/`, { headers: auth() })).status).toBe(401);
    expect((await request(`${pushUrl}/v2/${REPO}/blobs/uploads/`, { method: "POST", headers: auth() })).status).toBe(401);
  });

  it("#14.1 the push user is known to the read-write instance only", async () => {
    expect((await request(`${pushUrl}/v2/`, { headers: pushAuth() })).status).toBe(200);
    expect((await request(`${url}/v2/`, { headers: pushAuth() })).status).toBe(401);
    expect((await request(`${url}/v2/${REPO}/blobs/uploads/`, { method: "POST", headers: pushAuth() })).status).toBe(401);
    expect((await request(`${pushUrl}/v2/`, { headers: pushAuth(`${PUSH_PASSWORD}x`) })).status).toBe(401);
  });

  it("PM-13 #14.1 a blob and manifest push to the read-write instance succeed and read back from the read-only one; without credentials 401", async () => {
    expect((await request(`${pushUrl}/v2/${REPO}/blobs/uploads/`, { method: "POST" })).status).toBe(401);
    const push = async (body: Buffer) => {
      const digest = `sha256:${crypto.createHash("sha256").update(body).digest("hex")}`;
      const start = await request(`${pushUrl}/v2/${REPO}/blobs/uploads/`, { method: "POST", headers: pushAuth() });
      expect(start.status, start.body).toBe(202);
      const location = new URL(String(start.headers.location), pushUrl);
      location.searchParams.set("digest", digest);
      const put = await request(location.toString(), {
        method: "PUT", body, headers: { ...pushAuth(), "Content-Type": "application/octet-stream", "Content-Length": String(body.length) },
      });
      expect(put.status, put.body).toBe(201);
      expect(put.headers["docker-content-digest"]).toBe(digest);
      return { digest, size: body.length };
    };
    const layer = await push(crypto.randomBytes(4096));
    const head = await request(`${url}/v2/${REPO}/blobs/${layer.digest}`, { method: "HEAD", headers: auth() });
    expect(head.status).toBe(200);
    expect(head.headers["docker-content-digest"]).toBe(layer.digest);
    expect(head.headers["content-length"]).toBe("4096");
    expect((await request(`${url}/v2/${REPO}/blobs/${layer.digest}`, { method: "HEAD" })).status).toBe(401);

    const config = await push(Buffer.from(JSON.stringify({ architecture: "arm64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })));
    const manifest = JSON.stringify({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
    });
    const type = "application/vnd.oci.image.manifest.v1+json";
    // The read-only instance refuses the manifest too, whoever asks.
    expect((await request(`${url}/v2/${REPO}/manifests/0.1.0`, { method: "PUT", body: manifest, headers: { ...auth(), "Content-Type": type } })).status).toBe(405);
    const put = await request(`${pushUrl}/v2/${REPO}/manifests/0.1.0`, { method: "PUT", body: manifest, headers: { ...pushAuth(), "Content-Type": type } });
    expect(put.status, put.body).toBe(201);
    const got = await request(`${url}/v2/${REPO}/manifests/0.1.0`, { headers: { ...auth(), Accept: type } });
    expect(got.status).toBe(200);
    expect(got.body).toBe(manifest);
    expect((await request(`${url}/v2/${REPO}/tags/list`, { headers: auth() })).body).toBe(JSON.stringify({ name: REPO, tags: ["0.1.0"] }) + "\n");
  });
});
