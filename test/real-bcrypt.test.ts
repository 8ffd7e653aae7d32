// The bcrypt hashes the platform hands out (bcryptjs with a deterministic salt, components/lib/hash.ts)
// verified by a second implementation: Apache's (APR's) bcrypt through `htpasswd -vb`
// (apache2-utils). Argo CD (Go's x/crypto/bcrypt) and the registry (the same) take $2a$/$2y$ alike.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REGISTRY_USER } from "../components/lib/endpoints";
import { bcryptHash, htpasswdLine } from "../components/lib/hash";
import { REGISTRY_HTPASSWD_SECRET } from "../components/gitops/registry";
import { needs } from "./helpers/binaries";
import { testContext } from "./helpers/context";
import { Created, find, mocks, plain, settle } from "./helpers/mocks";

// Generated (alphanumeric), every printable ASCII character, UTF-8, and bcrypt's 72-byte limit.
const PASSWORDS = [
  "Q7fXk2LmP9rTz4Wb8NcV3hYs6JdG1aEu",
  Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join(""),
  "pässwörd ☃", "a".repeat(72),
];

const tools = needs("htpasswd");

tools.describe("PM-05 PM-13 bcrypt hashes verified by APR's bcrypt (htpasswd -vb)", () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "bcrypt-")); });
  afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  /** htpasswd -vb on a one-line file: true when the password matches. */
  function verify(line: string, password: string): boolean {
    const file = path.join(dir, "htpasswd");
    fs.writeFileSync(file, `${line}\n`);
    const user = line.slice(0, line.indexOf(":"));
    const r = spawnSync(tools.bin("htpasswd"), ["-vb", file, user, password], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0 && r.status !== 3) throw new Error(`htpasswd -vb: exit ${r.status}: ${r.stderr}`);
    return r.status === 0;
  }

  it("PM-05 bcryptHash (Argo CD's admin seed) verifies for any password; a changed password does not", () => {
    for (const p of PASSWORDS) {
      const hash = bcryptHash(p, "argocd-admin");
      expect(hash).toMatch(/^\$2a\$10\$/);
      expect(verify(`admin:${hash}`, p), JSON.stringify(p)).toBe(true);
      expect(verify(`admin:${hash}`, `${p}x`.slice(1)), `${JSON.stringify(p)} altered`).toBe(false);
    }
  });

  it("PM-05 the hashes the ArgoCd component puts in argocd-secret verify", async () => {
    const created: Created[] = [];
    pulumi.runtime.setMocks(mocks(created), "gitops-platform", "oci", false);
    const { ArgoCd } = await import("../components/gitops/argocd");
    new ArgoCd("argocd", {
      ctx: testContext("oci"), adminPassword: pulumi.secret(PASSWORDS[1]), guestPassword: pulumi.secret(PASSWORDS[2]),
      gitUsername: "platform-admin", gitPassword: pulumi.secret("gitea-pw"),
    });
    await settle(10);
    const secret = plain(find(created, "kubernetes:helm.sh/v4:Chart").inputs.values).configs.secret;
    expect(verify(`admin:${secret.argocdServerAdminPassword}`, PASSWORDS[1])).toBe(true);
    expect(verify(`guest:${secret.extra["accounts.guest.password"]}`, PASSWORDS[2])).toBe(true);
    expect(verify(`guest:${secret.extra["accounts.guest.password"]}`, PASSWORDS[1])).toBe(false);
  });

  it("PM-13 the registry's htpasswd line verifies, from hash.ts and from the Registry component's Secret", async () => {
    for (const p of PASSWORDS.slice(0, 2)) {
      const line = htpasswdLine(REGISTRY_USER, p, `registry/${REGISTRY_USER}`);
      expect(line).toMatch(new RegExp(`^${REGISTRY_USER}:\\$2y\\$10\\$`));
      expect(verify(line, p), JSON.stringify(p)).toBe(true);
      expect(verify(line, `${p}!`.slice(1)), `${JSON.stringify(p)} altered`).toBe(false);
    }
    const created: Created[] = [];
    pulumi.runtime.setMocks(mocks(created), "gitops-platform", "oci", false);
    const { Registry } = await import("../components/gitops/registry");
    new Registry("registry", { ctx: testContext("oci"), password: pulumi.secret(PASSWORDS[2]), pushPassword: pulumi.secret(PASSWORDS[1]) });
    await settle(5);
    const secret = find(created, "kubernetes:core/v1:Secret", (s) => s.inputs.metadata.name === REGISTRY_HTPASSWD_SECRET);
    expect(verify(plain(secret.inputs.stringData).htpasswd.trim(), PASSWORDS[2])).toBe(true);
  });
});
