// What every in-cluster component receives from the Platform: the environment's profile and the
// one endpoints object. The Kubernetes provider reaches components through `providers` on their
// options and flows to children through `{ parent: this }`.
import { Environment, Profile } from "./profiles";
import { Endpoints } from "./endpoints";
import type { TrafficOptions } from "../traffic";
import type { BackupConfig } from "../backup/settings";
import type { TlsConfig } from "../../config";

export interface ClusterContext {
  readonly environment: Environment;
  readonly profile: Profile;
  readonly endpoints: Endpoints;
  /** Inputs of the traffic plan (NodePort sources, API server address); every namespace owner reads the same. */
  readonly traffic?: TrafficOptions;
  /** Where backups go (config.ts); the traffic plan and the Backups component read it. Absent: the environment's default target. */
  readonly backup?: BackupConfig;
  /** Who signs the UIs' certificates (config.ts). Absent: the platform CA. */
  readonly tls?: TlsConfig;
}
