import { dosDenylistFromConfig } from "./program";

const stack = dosDenylistFromConfig();

export const policyName = stack.policyName;
export const xdpEligibility = stack.xdpEligibility;
export const xdpDecides = stack.xdpDecides;
export const attachments = stack.attachments;
