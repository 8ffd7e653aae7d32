// Where the restic repositories live and the credentials to them: the OCI bucket and its Customer
// Secret Key (oci), a user's S3 endpoint, or the rest-server's directory; and the restic password.
// Apart from the in-cluster Backups component on purpose: the Platform gives everything on the
// cluster `deletedWith` the cluster, and a child inherits it. Inherited here, destroying the stack
// would leave the Customer Secret Key behind (OCI allows two per user) instead of deleting it.
import * as pulumi from "@pulumi/pulumi";
import * as oci from "@pulumi/oci";
import * as random from "@pulumi/random";
import { BackupComponent } from "./jobs";
import { restRepository } from "./rest-server";
import { BackupConfig, ociS3Endpoint, REST_SERVER } from "./settings";

export interface BackupStoreArgs {
  /** config.ts parseBackup. */
  readonly backup: BackupConfig;
}

export class BackupStore extends pulumi.ComponentResource {
  /** The key to every snapshot (secret): platform:backupPassword, or generated and kept in the state. */
  public readonly password: pulumi.Output<string>;
  /** The environment restic needs besides the repository and password (all secret). */
  public readonly credentials: Record<string, pulumi.Output<string>>;
  /** The OCI bucket, on the oci-bucket target; retained when the stack is destroyed. */
  public readonly bucket?: oci.objectstorage.Bucket;
  private readonly repositoryOf: (c: BackupComponent) => pulumi.Output<string>;

  constructor(name: string, args: BackupStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:backup:BackupStore", name, {}, opts);
    const { backup } = args;
    if (!backup) throw new Error("BackupStore: no backup settings (config.ts parseBackup; the Platform passes them in ctx.backup)");
    const generated = (suffix: string) => pulumi.secret(new random.RandomPassword(`${name}-${suffix}`, {
      length: 48, special: false, minUpper: 2, minLower: 2, minNumeric: 2,
    }, { parent: this }).result);
    // Without it nothing restores: set platform:backupPassword to keep a copy outside the stack.
    this.password = backup.password ? pulumi.secret(backup.password) : generated("restic-password");

    const target = backup.target;
    switch (target.kind) {
      case "oci-bucket": {
        const ns = oci.objectstorage.getNamespaceOutput({ compartmentId: target.compartmentId }, { parent: this }).namespace;
        // retainOnDelete: the backups outlive the stack (`pulumi destroy` leaves the bucket; docs/restore.md imports it back).
        this.bucket = new oci.objectstorage.Bucket(`${name}-bucket`, {
          compartmentId: target.compartmentId, namespace: ns, name: target.bucket,
          accessType: "NoPublicAccess", storageTier: "Standard", versioning: "Disabled",
          freeformTags: { "platform-stack": backup.host },
        }, { parent: this, retainOnDelete: true });
        // S3 compatibility needs a Customer Secret Key: id is the access key, key the secret (shown once).
        const key = new oci.identity.CustomerSecretKey(`${name}-s3-key`, {
          userId: target.userOcid, displayName: `platform backups (${backup.host})`,
        }, { parent: this, additionalSecretOutputs: ["key"] });
        const bucket = this.bucket.name;
        const endpoint = ns.apply((n) => ociS3Endpoint(n, target.region));
        this.repositoryOf = (c) => pulumi.interpolate`s3:${endpoint}/${bucket}/${c}`;
        this.credentials = { AWS_ACCESS_KEY_ID: pulumi.secret(key.id), AWS_SECRET_ACCESS_KEY: pulumi.secret(key.key), AWS_DEFAULT_REGION: pulumi.output(target.region) };
        break;
      }
      case "s3":
        this.repositoryOf = (c) => pulumi.output(`s3:${target.endpoint}/${target.bucket}/${target.prefix}/${c}`);
        this.credentials = { AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: pulumi.output(target.region) };
        break;
      case "host-path":
        this.repositoryOf = (c) => pulumi.output(restRepository(c));
        this.credentials = { RESTIC_REST_USERNAME: pulumi.output(REST_SERVER.user), RESTIC_REST_PASSWORD: generated("rest-password") };
        break;
    }
    this.registerOutputs({});
  }

  /** The restic repository (`restic -r`) of one component. */
  repository(c: BackupComponent): pulumi.Output<string> {
    return this.repositoryOf(c);
  }
}
