// OciHost alone under mocks, its instance reporting the metadata it was launched with (an older
// program's ssh_authorized_keys or user_data): what day-two tests of a node launched before need.
import { vi } from "vitest";
import { installEngineChecks, Registration } from "./engine";
import { Created, mocks, plain, settle, unwrap } from "./mocks";

export const INSTANCE = "oci:Core/instance:Instance";

/** The remote Commands an OciHost registers when its instance reports `launchMetadata`. */
export async function ociHostCommands(
  launchMetadata: Record<string, string>, keys: { sshPublicKey?: string; sshPrivateKey?: string } = {},
): Promise<{ created: Created[]; registrations: Registration[] }> {
  vi.resetModules();
  const pulumi = await import("@pulumi/pulumi");
  const created: Created[] = [];
  const base = mocks(created);
  pulumi.runtime.setMocks({
    newResource(args) {
      const r = base.newResource(args) as { id: string; state: Record<string, any> };
      if (args.type === INSTANCE) r.state.metadata = { ...plain(r.state.metadata), ...launchMetadata };
      return r;
    },
    call: (args) => base.call(args),
  }, "gitops-platform", "oci", false);
  const engine = installEngineChecks(pulumi, "oci", "gitops-platform");
  const { OciHost } = await import("../../components/host/oci-host");
  const host = new OciHost("oci", {
    compartmentId: "ocid1.compartment.oc1..example", adminCidr: "203.0.113.7/32", ocpus: 2, memoryGb: 12, nodeCount: 1,
    bootVolumeGb: 50, imageId: "ocid1.image.oc1..mock-newest", availabilityDomainIndex: 0,
    ...(keys.sshPublicKey === undefined ? {} : { sshPublicKey: keys.sshPublicKey }),
    ...(keys.sshPrivateKey === undefined ? {} : { sshPrivateKey: pulumi.secret(keys.sshPrivateKey) }),
  });
  await unwrap(host.publicIps);
  await settle(20);
  return {
    created: created.filter((c) => c.type === "command:remote:Command"),
    registrations: [...engine.resources.values()].filter((r) => r.type === "command:remote:Command"),
  };
}
