/**
 * The crash tests' hook: when CALICO_XDP_FAULT names a step, the provider SIGKILLs itself there, as a
 * crash, an OOM kill or a power cut would stop it. The loader honours the same variable for the steps
 * it runs (after-attach, mid-map-update).
 */
export const FAULT_STEPS = [
  "after-load",
  "mid-map-update",
  "after-attach",
  "after-pin",
  "before-state",
] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];

export function faultPoint(step: FaultStep): void {
  if (process.env.CALICO_XDP_FAULT === step) process.kill(process.pid, "SIGKILL");
}
