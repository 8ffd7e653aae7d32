// Every version the platform installs, in one file. Each pin names the upstream source it was
// checked against. Images are multi-arch (linux/amd64 + linux/arm64) unless noted: ARM64 (OCI A1)
// is a first-class target. Never `latest`.

export const versions = {
  /** K3s release; source: k3s-io/k3s releases. */
  k3s: "v1.34.1+k3s1",
  /** k3d CLI the dev stack expects; source: k3d-io/k3d releases. */
  k3d: "v5.8.3",
  /** kubectl-argo-rollouts plugin installed next to kubectl on servers (PM-16); same as the controller's app version. */
  kubectlArgoRollouts: "v1.8.3",
} as const;

/** The rancher/k3s image for k3d: Docker tags use "-" where K3s versions use "+". */
export function k3sImage(k3sVersion: string = versions.k3s): string {
  return `rancher/k3s:${k3sVersion.replace("+", "-")}`;
}
