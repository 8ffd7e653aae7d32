import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { database, DatabaseArgs, databasePasswordSecret, POSTGRES_UID } from "../components/apps/database";
import { mountsPvc } from "../components/lib/overlays";
import { sizeOf } from "../components/lib/sizes";
import { images } from "../components/lib/versions";
import { execProbeCannotFail } from "../policy/checks";

const base: DatabaseArgs = {
  name: "orders-db", namespace: "shop", database: "orders", user: "orders",
  passwordSecret: { name: "orders-db-password", key: "password" },
  clientLabels: { "app.kubernetes.io/name": "orders-api" },
  resources: sizeOf("standard", "samplePostgres"),
  syncResources: sizeOf("standard", "samplePasswordSync"),
};

const containerOf = (db: ReturnType<typeof database>) => db.statefulSet.spec.template.spec.containers[0];

/** Resolves a Service's targetPort (a name) to the container port number it means. */
function targetContainerPort(db: ReturnType<typeof database>): number {
  const target = db.service.spec.ports[0].targetPort;
  const port = containerOf(db).ports.find((p: any) => p.name === target);
  expect(port, `container port named ${target}`).toBeDefined();
  return port.containerPort;
}

describe("database()", () => {
  it.each([
    ["defaults", base],
    ["another name, namespace and service port", { ...base, name: "billing", namespace: "finance", port: 6543 }],
  ])("PM-23 host, client Secret and both policies derive from one object (%s)", (_label, args) => {
    const db = database(args);
    const svc = db.service;
    const podLabels = db.statefulSet.spec.template.metadata.labels;
    // Host: exactly the Service the StatefulSet's pods sit behind.
    expect(db.host).toBe(`${svc.metadata.name}.${args.namespace}.svc.cluster.local`);
    expect(svc.spec.selector).toEqual(podLabels);
    expect(db.statefulSet.spec.selector.matchLabels).toEqual(podLabels);
    // Client Secret: that host and the Service's port.
    expect(db.clientSecret.stringData).toEqual({
      DATABASE_HOST: db.host, DATABASE_PORT: String(svc.spec.ports[0].port), DATABASE_NAME: args.database, DATABASE_USER: args.user,
    });
    expect(svc.spec.ports[0].port).toBe(args.port ?? 5432);
    // Egress from the clients: to the database pods, on the port the Service really forwards to.
    const egress = db.clientEgressPolicy.spec;
    expect(egress.podSelector.matchLabels).toEqual(args.clientLabels);
    expect(egress.egress[0].to[0].podSelector.matchLabels).toEqual(podLabels);
    expect(egress.egress[0].ports[0].port).toBe(targetContainerPort(db));
    // Ingress into the database: from exactly those clients, on the same port.
    const ingress = db.serverIngressPolicy.spec;
    expect(ingress.podSelector.matchLabels).toEqual(podLabels);
    expect(ingress.ingress[0].from[0].podSelector.matchLabels).toEqual(args.clientLabels);
    expect(ingress.ingress[0].ports[0].port).toBe(targetContainerPort(db));
    // Everything in the database's namespace.
    for (const o of db.objects) expect(o.metadata.namespace).toBe(args.namespace);
  });

  it("PM-23 the client env reads the one client Secret and the password by reference", () => {
    const db = database(base);
    expect(db.clientEnvFrom).toEqual([{ secretRef: { name: db.clientSecret.metadata.name } }]);
    // The mounted file first (read at each connection, so it follows a rotation), the env for older clients.
    expect(db.clientEnv).toEqual([
      { name: "DATABASE_PASSWORD_FILE", value: "/var/run/secrets/platform/database/secret" },
      { name: "DATABASE_PASSWORD", valueFrom: { secretKeyRef: base.passwordSecret } },
    ]);
    expect(db.clientVolumes).toEqual([{
      name: "db-password", secret: { secretName: base.passwordSecret.name, items: [{ key: "password", path: "secret" }], defaultMode: 0o444 },
    }]);
    expect(db.clientVolumeMounts).toEqual([{ name: "db-password", mountPath: "/var/run/secrets/platform/database", readOnly: true }]);
    const pw = containerOf(db).env.find((e: any) => e.name === "POSTGRES_PASSWORD");
    expect(pw.valueFrom.secretKeyRef).toEqual(base.passwordSecret);
    // No credential anywhere in the objects: they can go to Git.
    expect(JSON.stringify(db.objects)).not.toMatch(/"value":"[^"]*pass/i);
    expect(Object.keys(db.clientSecret.stringData)).not.toContain("DATABASE_PASSWORD");
  });

  it("PM-06 Services target the container port by name", () => {
    const db = database(base);
    const names = containerOf(db).ports.map((p: any) => p.name);
    for (const svc of [db.service, db.headlessService]) {
      for (const p of svc.spec.ports) {
        expect(typeof p.targetPort).toBe("string");
        expect(names).toContain(p.targetPort);
      }
    }
    expect(db.headlessService.spec.clusterIP).toBe("None");
    expect(db.statefulSet.spec.serviceName).toBe(db.headlessService.metadata.name);
  });

  it("PM-11 probes exercise Postgres and can fail", () => {
    const c = containerOf(database(base));
    expect(c.readinessProbe.exec.command[0]).toBe("pg_isready");
    expect(c.readinessProbe.exec.command).toEqual(expect.arrayContaining(["-U", "orders", "-d", "orders"]));
    expect(execProbeCannotFail(c.readinessProbe.exec.command)).toBe(false);
    expect(c.livenessProbe.tcpSocket.port).toBe("postgres");
  });

  it("PM-21 storage via volumeClaimTemplates, owned through fsGroup 999 (Debian postgres uid)", () => {
    const db = database(base);
    expect(mountsPvc(db.statefulSet)).toBe(true);
    expect(db.statefulSet.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("1Gi");
    const pod = db.statefulSet.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ fsGroup: 999, runAsUser: 999, runAsNonRoot: true });
    // The uid also sits on the container, so it survives the dev overlay that drops the pod context.
    expect(containerOf(db).securityContext).toMatchObject({ runAsUser: POSTGRES_UID, runAsGroup: POSTGRES_UID, readOnlyRootFilesystem: true });
    expect(containerOf(db).env).toContainEqual({ name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" });
    expect(containerOf(db).image).toBe(images.postgres);
    expect(containerOf(db).resources).toEqual(sizeOf("standard", "samplePostgres"));
  });

  it("the password Secret holds a Pulumi secret, under the name and key the objects reference", async () => {
    const db = database(base);
    const secret = databasePasswordSecret(db, "not-in-git");
    expect(secret.metadata).toEqual({ name: "orders-db-password", namespace: "shop" });
    const value = secret.stringData.password;
    expect(pulumi.Output.isInstance(value)).toBe(true);
    expect(await pulumi.isSecret(value)).toBe(true);
    expect(() => databasePasswordSecret(db, "")).toThrow(/password is required/);
  });

  it.each([
    ["uppercase name", { name: "Orders" }, /DNS label/],
    ["name too long for the headless Service", { name: "a".repeat(51) }, /at most 50/],
    ["bad namespace", { namespace: "shop_1" }, /namespace/],
    ["port 0", { port: 0 }, /out of range/],
    ["port 70000", { port: 70000 }, /out of range/],
    ["non-integer port", { port: 54.3 }, /out of range/],
    ["database with a dash", { database: "my-db" }, /PostgreSQL identifier/],
    ["reserved user", { user: "pg_admin" }, /PostgreSQL identifier/],
    ["storage in GB", { storage: "1GB" }, /storage/],
    ["empty client labels", { clientLabels: {} }, /must not be empty/],
    ["client labels selecting the database", { clientLabels: { "app.kubernetes.io/name": "orders-db", "app.kubernetes.io/component": "database" } }, /also select the database pods/],
    ["password secret without key", { passwordSecret: { name: "x", key: "" } }, /passwordSecret/],
    ["latest image", { image: "postgres:latest" }, /pinned tag/],
    ["loopback image", { image: "localhost:5000/postgres:17.11" }, /PM-15/],
  ])("refuses %s", (_label, patch, error) => {
    expect(() => database({ ...base, ...(patch as Partial<DatabaseArgs>) })).toThrow(error);
  });
});
