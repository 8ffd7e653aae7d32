// The test helpers enforce what the engine and the API server enforce and the mocks skip: a
// repeated URN, and one Kubernetes object declared by two resources (FIELD-NOTES.md, "What mocks hide").
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { assertEngineInvariants, EngineRecord, installEngineChecks, objectKey } from "./helpers/engine";
import { Created, mocks, settle } from "./helpers/mocks";

const created: Created[] = [];
let engine: EngineRecord;

class Parent extends pulumi.ComponentResource {
  constructor(name: string, build: (self: Parent) => void, opts?: pulumi.ComponentResourceOptions) {
    super("platform:test:Parent", name, {}, opts);
    build(this);
    this.registerOutputs({});
  }
}

const policy = (namespace: string, name: string) => ({ metadata: { name, namespace }, spec: { podSelector: {}, policyTypes: ["Ingress"] } });

describe("engine invariants the mocks skip", () => {
  beforeAll(() => {
    pulumi.runtime.setMocks(mocks(created), "gitops-platform", "dev", false);
  });
  beforeEach(() => {
    created.length = 0;
    engine = installEngineChecks(pulumi, "dev", "gitops-platform");
  });

  it("names resources with the parent's whole type chain, as the engine does", async () => {
    const outer = new Parent("outer", () => undefined);
    const inner = new Parent("inner", () => undefined);
    new k8s.core.v1.ConfigMap("cm", { metadata: { name: "cm", namespace: "a" } }, { parent: new Parent("mid", () => undefined, { parent: outer }) });
    new k8s.core.v1.ConfigMap("child", { metadata: { name: "child", namespace: "a" } }, { parent: inner });
    await settle();
    expect(engine.urns).toContain("urn:pulumi:dev::gitops-platform::platform:test:Parent$kubernetes:core/v1:ConfigMap::child");
    // The mock keeps only the last segment; the engine keeps the chain, so these two differ.
    expect(engine.urns).toContain("urn:pulumi:dev::gitops-platform::platform:test:Parent$platform:test:Parent$kubernetes:core/v1:ConfigMap::cm");
  });

  it("a repeated URN fails, as 'Duplicate resource URN' stops a real preview", async () => {
    new Parent("argocd", (self) => {
      new k8s.networking.v1.NetworkPolicy("np", policy("argocd", "allow-intra-namespace"), { parent: self });
      new k8s.networking.v1.NetworkPolicy("np", policy("argocd", "allow-intra-namespace"), { parent: self });
    });
    await settle();
    expect(engine.duplicateUrns).toEqual(["urn:pulumi:dev::gitops-platform::platform:test:Parent$kubernetes:networking.k8s.io/v1:NetworkPolicy::np"]);
    expect(() => assertEngineInvariants(created, engine, "t")).toThrow(/Duplicate resource URN/);
  });

  it("one Kubernetes object declared under two URNs fails, as the API answers AlreadyExists", async () => {
    new Parent("prometheus", (self) => new k8s.networking.v1.NetworkPolicy("prometheus-np", policy("monitoring", "allow-x"), { parent: self }));
    new Parent("ksm", (self) => new k8s.networking.v1.NetworkPolicy("ksm-np", policy("monitoring", "allow-x"), { parent: self }));
    await settle();
    expect(engine.duplicateUrns).toEqual([]);
    expect(() => assertEngineInvariants(created, engine, "t")).toThrow(/networking\.k8s\.io\/NetworkPolicy\/monitoring\/allow-x is declared by 2 resources/);
  });

  it("the same name in another namespace, kind or group is another object", async () => {
    new k8s.networking.v1.NetworkPolicy("a", policy("monitoring", "x"));
    new k8s.networking.v1.NetworkPolicy("b", policy("gitea", "x"));
    new k8s.core.v1.ConfigMap("c", { metadata: { name: "x", namespace: "gitea" } });
    await settle();
    expect(() => assertEngineInvariants(created, engine, "t")).not.toThrow();
  });

  it("object identity: group (not version), kind, namespace (default when unset, none when cluster-scoped), name", () => {
    const c = (type: string, metadata: Record<string, unknown>): Created => ({ type, name: "r", inputs: { metadata } });
    expect(objectKey(c("kubernetes:core/v1:Secret", { name: "s" }))).toBe("/Secret/default/s");
    expect(objectKey(c("kubernetes:apps/v1:Deployment", { name: "d", namespace: "n" }))).toBe("apps/Deployment/n/d");
    expect(objectKey(c("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", { name: "r", namespace: "ignored" }))).toBe("rbac.authorization.k8s.io/ClusterRole//r");
    expect(objectKey(c("kubernetes:argoproj.io/v1alpha1:Application", { name: "a", namespace: "argocd" }))).toBe("argoproj.io/Application/argocd/a");
    expect(objectKey(c("kubernetes:helm.sh/v4:Chart", { name: "x" }))).toBeUndefined();
    expect(objectKey(c("kubernetes:core/v1:ConfigMap", {}))).toBeUndefined();
  });
});
