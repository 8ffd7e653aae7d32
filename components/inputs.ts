// Config checks that need the cloud's answer: resolved (invokes only) before the first resource is
// registered, so a bad value fails with nothing created, like every other config error.
import * as oci from "@pulumi/oci";
import { checkAvailabilityDomainIndex, ConfigError, OciConfig, PlatformConfig } from "../config";
import { A1_SHAPE } from "./host/oci-host";

/** What only the cloud knows, resolved before the Platform is built. */
export interface ResolvedInputs {
  /** oci: the Ubuntu image new instances launch from (a running node keeps its own: OciHost ignores later ids). */
  readonly oci?: { readonly imageId: string };
}

/** The lookup for the newest Canonical Ubuntu image for the A1 shape (platform:ubuntuVersion). */
export function ubuntuImageQuery(compartmentId: string, ubuntuVersion: string): oci.core.GetImagesArgs {
  return {
    compartmentId, operatingSystem: "Canonical Ubuntu", operatingSystemVersion: ubuntuVersion,
    shape: A1_SHAPE, sortBy: "TIMECREATED", sortOrder: "DESC", state: "AVAILABLE",
  };
}

/** The newest image of the lookup's answer (newest first), or a ConfigError naming the key, shape and region. */
export function pickUbuntuImage(images: readonly { id: string }[], cfg: Pick<OciConfig, "ubuntuVersion" | "region">): string {
  const image = images[0];
  if (!image) {
    throw new ConfigError("ubuntuVersion", `no Canonical Ubuntu ${cfg.ubuntuVersion} image for ${A1_SHAPE} in ${cfg.region ?? "the provider's region"}: choose another version or region`);
  }
  return image.id;
}

export async function resolveInputs(config: PlatformConfig): Promise<ResolvedInputs> {
  if (!config.oci) return {};
  const { compartmentId } = config.oci;
  // The same lookup OciHost makes; here its answer can still stop the program cleanly (there,
  // it failed inside an apply after the VCN and 14 other resources were already registered).
  const { availabilityDomains } = await oci.identity.getAvailabilityDomains({ compartmentId });
  checkAvailabilityDomainIndex(config.oci.availabilityDomainIndex, availabilityDomains.length);
  // Resolved once, here: OciHost launches from this id (and ignores it on a running node).
  const { images } = await oci.core.getImages(ubuntuImageQuery(compartmentId, config.oci.ubuntuVersion));
  return { oci: { imageId: pickUbuntuImage(images, config.oci) } };
}
