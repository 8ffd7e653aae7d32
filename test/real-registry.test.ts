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
import { REGISTRY_USER } from "../components/lib/endpoints";
import { REGISTRY_HTPASSWD_SECRET } from "../components/gitops/registry";
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

tools.describe("PM-13 the registry's auth and storage, served by a real distribution registry", () => {
  let registry: Service;
  let url: string;
  let dir: string;
  const created: Created[] = [];

  beforeAll(async () => {
    pulumi.runtime.setMocks(mocks(created), "gitops-platform", "oci", false);
    const { Registry } = await import("../components/gitops/registry");
    new Registry("registry", { ctx: testContext("oci"), password: pulumi.secret(PASSWORD) });
    await settle(5);
    const secret = find(created, "kubernetes:core/v1:Secret", (s) => s.inputs.metadata.name === REGISTRY_HTPASSWD_SECRET);
    const deployment = find(created, "kubernetes:apps/v1:Deployment");
    const pod = plain(deployment.inputs.spec.template.spec);
    const container = pod.containers[0];
    expect(container.command ?? container.args).toBeUndefined(); // the image's own config file
    const mounts = Object.fromEntries(container.volumeMounts.map((m: any) => [m.name, m.mountPath]));
    expect(pod.volumes.find((v: any) => v.name === "auth").secret.secretName).toBe(REGISTRY_HTPASSWD_SECRET);

    dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-"));
    const moved: Record<string, string> = { [mounts.auth]: path.join(dir, "auth"), [mounts.data]: path.join(dir, "data") };
    for (const d of Object.values(moved)) fs.mkdirSync(d);
    fs.writeFileSync(path.join(moved[mounts.auth], "htpasswd"), plain(secret.inputs.stringData).htpasswd, { mode: 0o600 });
    const port = await freePort();
    const env: Record<string, string> = {};
    for (const { name, value } of container.env as { name: string; value: string }[]) {
      const mount = Object.keys(moved).find((m) => value === m || value.startsWith(`${m}/`));
      env[name] = mount ? moved[mount] + value.slice(mount.length) : value;
    }
    expect(env.REGISTRY_HTTP_ADDR).toBe(":5000");
    env.REGISTRY_HTTP_ADDR = `127.0.0.1:${port}`;
    env.REGISTRY_HTTP_DEBUG_ADDR = `127.0.0.1:${await freePort()}`;
    const config = path.join(dir, "config.yml");
    fs.writeFileSync(config, YAML.stringify(IMAGE_CONFIG));
    url = `http://127.0.0.1:${port}`;
    registry = await startService("docker-registry", tools.bin("docker-registry"), ["serve", config], {
      env: { PATH: process.env.PATH, ...env },
      ready: async () => (await request(`${url}/`, { timeoutMs: 1_000 })).status === 200,
    });
  }, 30_000);

  afterAll(async () => {
    await registry?.stop();
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

  it("PM-13 a blob push (POST upload, PUT with digest) and a manifest push succeed, and read back; without credentials 401", async () => {
    expect((await request(`${url}/v2/${REPO}/blobs/uploads/`, { method: "POST" })).status).toBe(401);
    const push = async (body: Buffer) => {
      const digest = `sha256:${crypto.createHash("sha256").update(body).digest("hex")}`;
      const start = await request(`${url}/v2/${REPO}/blobs/uploads/`, { method: "POST", headers: auth() });
      expect(start.status, start.body).toBe(202);
      const location = new URL(String(start.headers.location), url);
      location.searchParams.set("digest", digest);
      const put = await request(location.toString(), {
        method: "PUT", body, headers: { ...auth(), "Content-Type": "application/octet-stream", "Content-Length": String(body.length) },
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
    const put = await request(`${url}/v2/${REPO}/manifests/0.1.0`, { method: "PUT", body: manifest, headers: { ...auth(), "Content-Type": type } });
    expect(put.status, put.body).toBe(201);
    const got = await request(`${url}/v2/${REPO}/manifests/0.1.0`, { headers: { ...auth(), Accept: type } });
    expect(got.status).toBe(200);
    expect(got.body).toBe(manifest);
    expect((await request(`${url}/v2/${REPO}/tags/list`, { headers: auth() })).body).toBe(JSON.stringify({ name: REPO, tags: ["0.1.0"] }) + "\n");
  });
});
