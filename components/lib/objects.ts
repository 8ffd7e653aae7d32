// Registers our plain objects as Pulumi resources, after the environment's overlays. Core kinds
// get their typed class (so previews and tests see real types); CRDs go through CustomResource.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { K8sObject } from "./k8s";
import { applyOverlays } from "./overlays";
import { OverlayName } from "./profiles";

type Ctor = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

const TYPED: Record<string, Ctor> = {
  "v1/Namespace": k8s.core.v1.Namespace,
  "v1/ConfigMap": k8s.core.v1.ConfigMap,
  "v1/Secret": k8s.core.v1.Secret,
  "v1/Service": k8s.core.v1.Service,
  "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
  "v1/PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
  "apps/v1/Deployment": k8s.apps.v1.Deployment,
  "apps/v1/StatefulSet": k8s.apps.v1.StatefulSet,
  "batch/v1/Job": k8s.batch.v1.Job,
  "networking.k8s.io/v1/NetworkPolicy": k8s.networking.v1.NetworkPolicy,
  "rbac.authorization.k8s.io/v1/ClusterRole": k8s.rbac.v1.ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
};

/** Resource name: kind-namespace-name, unique across the stack. */
export function resourceName(obj: K8sObject): string {
  const ns = obj.metadata.namespace ? `${obj.metadata.namespace}-` : "";
  return `${obj.kind.toLowerCase()}-${ns}${obj.metadata.name}`;
}

/** Applies the overlays and registers the object; returns the resource. */
export function registerObject(
  obj: K8sObject,
  overlays: readonly OverlayName[],
  opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource {
  const final = applyOverlays(obj, overlays);
  const { apiVersion, kind, ...rest } = final;
  const ctor = TYPED[`${apiVersion}/${kind}`];
  if (ctor) return new ctor(resourceName(final), rest, opts);
  return new k8s.apiextensions.CustomResource(resourceName(final), final, opts);
}
