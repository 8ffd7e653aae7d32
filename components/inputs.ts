// Config checks that need the cloud's answer: resolved (invokes only) before the first resource is
// registered, so a bad value fails with nothing created, like every other config error.
import * as oci from "@pulumi/oci";
import { checkAvailabilityDomainIndex, PlatformConfig } from "../config";

export async function resolveInputs(config: PlatformConfig): Promise<void> {
  if (config.oci) {
    // The same lookup OciHost makes; here its answer can still stop the program cleanly (there,
    // it failed inside an apply after the VCN and 14 other resources were already registered).
    const { availabilityDomains } = await oci.identity.getAvailabilityDomains({ compartmentId: config.oci.compartmentId });
    checkAvailabilityDomainIndex(config.oci.availabilityDomainIndex, availabilityDomains.length);
  }
}
