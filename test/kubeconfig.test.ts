// The kubeconfig the stack authenticates with (issue 10 #6) and the latch that keeps it known in
// previews (issue 10 #7): pure builders, tested directly.
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { parseCredentials, PULUMI_ACCESS, pulumiAccessManifest, tokenKubeconfig } from "../components/cluster/kubeconfig";
import { latchDiff, latchProvider } from "../components/lib/latch";
import { MOCK_CREDENTIALS } from "./helpers/mocks";

const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

describe("the stack's identity on the cluster", () => {
  it("a ServiceAccount, bound to cluster-admin, with a token Secret the token controller fills and nothing expires", () => {
    const docs = YAML.parseAllDocuments(pulumiAccessManifest()).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual(["ServiceAccount", "ClusterRoleBinding", "Secret"]);
    const [sa, crb, secret] = docs;
    expect(sa.metadata).toEqual({ name: PULUMI_ACCESS.serviceAccount, namespace: PULUMI_ACCESS.namespace });
    expect(crb.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" });
    expect(crb.subjects).toEqual([{ kind: "ServiceAccount", name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    // Manually created (not listed in the ServiceAccount's `secrets`): a long-lived token that the
    // legacy-token cleaner leaves alone.
    expect(secret.type).toBe("kubernetes.io/service-account-token");
    expect(secret.metadata.annotations).toEqual({ "kubernetes.io/service-account.name": sa.metadata.name });
    expect(sa.secrets).toBeUndefined();
    expect(secret.data).toBeUndefined();
  });
});

describe("tokenKubeconfig and parseCredentials", () => {
  it("builds a kubeconfig from the CA and the token: no client certificate that could expire", () => {
    const kc = YAML.parse(tokenKubeconfig({ name: "k3s", server: "https://198.51.100.1:6443", credentials: { caData: CA, token: TOKEN } }));
    expect(kc.clusters).toEqual([{ name: "k3s", cluster: { server: "https://198.51.100.1:6443", "certificate-authority-data": CA } }]);
    expect(kc.users).toEqual([{ name: "k3s-pulumi", user: { token: TOKEN } }]);
    expect(kc.contexts).toEqual([{ name: "k3s", context: { cluster: "k3s", user: "k3s-pulumi" } }]);
    expect(kc["current-context"]).toBe("k3s");
  });

  it("the same credentials always give the same bytes (no preview churn)", () => {
    const args = { name: "k3d-platform", server: "https://127.0.0.1:6445", credentials: { caData: CA, token: TOKEN } };
    expect(tokenKubeconfig(args)).toBe(tokenKubeconfig({ ...args, credentials: { token: TOKEN, caData: CA } }));
  });

  it("refuses an address that is not https://host:port", () => {
    expect(() => tokenKubeconfig({ name: "k3s", server: "198.51.100.1:6443", credentials: { caData: CA, token: TOKEN } })).toThrow(/https:\/\/host:port/);
  });

  it("parses what the credential scripts print, and refuses anything else", () => {
    expect(parseCredentials(`{"caData":"${CA}","token":"${TOKEN}"}\n`)).toEqual({ caData: CA, token: TOKEN });
    expect(parseCredentials(MOCK_CREDENTIALS).token).toMatch(/^eyJ/);
    expect(() => parseCredentials("apiVersion: v1\nkind: Config\n")).toThrow(/not JSON/);
    expect(() => parseCredentials(`{"caData":"${CA}","token":""}`)).toThrow(/pulumi-token/);
    expect(() => parseCredentials(`{"caData":"bm90IGEgY2VydA==","token":"${TOKEN}"}`)).toThrow(/PEM/);
  });
});

describe("Latch", () => {
  it("a new value under the same key changes nothing; a new key replaces", () => {
    expect(latchDiff({ key: "k3s:i1:s1", value: "old" }, { key: "k3s:i1:s1", value: "new" })).toEqual({ changes: false });
    expect(latchDiff({ key: "k3s:i1:s1", value: "old" }, { key: "k3s:i2:s1", value: "new" })).toEqual({ changes: true, replaces: ["key"], deleteBeforeReplace: false });
  });

  it("the provider keeps the first value: create stores it, diff ignores a new one, update (never asked for) keeps the old", async () => {
    const created = await latchProvider.create({ key: "k", value: "first" });
    expect(created.outs).toEqual({ key: "k", value: "first" });
    // A preview passes an unknown value (a re-run command's output); the key alone decides.
    expect((await latchProvider.diff!("latch", created.outs, { key: "k", value: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" })).changes).toBe(false);
    expect((await latchProvider.update!("latch", created.outs, { key: "k", value: "second" })).outs).toEqual({ key: "k", value: "first" });
  });
});
