import { redisHostFromConfig } from "./program";

const stack = redisHostFromConfig();

export const policyName = stack.policyName;
export const selector = stack.selector;
export const xdpEligibility = stack.xdpEligibility;
export const attachments = stack.attachments;
