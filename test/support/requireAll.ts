/**
 * Kernel and engine tests may skip on a laptop without root, saying why; CI sets
 * CALICO_XDP_REQUIRE_ALL=1 and then a missing prerequisite is a failure instead.
 */
export function skipReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (process.env.CALICO_XDP_REQUIRE_ALL === "1") {
    throw new Error(`CALICO_XDP_REQUIRE_ALL=1 but a prerequisite is missing: ${reason}`);
  }
  console.warn(`skipping: ${reason}`);
  return reason;
}
