/**
 * pulumi-calico-xdp: Calico host protection (HostEndpoint, untracked GlobalNetworkPolicy,
 * GlobalNetworkSet, FelixConfiguration) for Pulumi, and the XDP filter that enforces such a policy's
 * ingress rules in the NIC driver.
 *
 * This list is the package's public API; everything else is internal and may change in any release.
 * @packageDocumentation
 */

export type { Port, Protocol, ProtocolName } from "./calico/ports";
export {
  type ApiVersion,
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  type ProtoPort,
} from "./calico/resources";
// Calico's vocabulary, as the components take it.
export type { Action, EntityRule, Rule } from "./calico/rule";
export {
  matchesSelector,
  parseSelector,
  printSelector,
  type SelectorNode,
  SelectorSyntaxError,
  selector,
} from "./calico/selector";
export { felixXdpEligibility, mirrorReturnRules, type XdpEligibility } from "./calico/untracked";
export { ValidationError } from "./calico/zodkit";
// Components and their arguments.
export { FelixConfiguration, type FelixConfigurationArgs } from "./felixConfiguration";
export { GlobalNetworkSet, type GlobalNetworkSetArgs } from "./globalNetworkSet";
export {
  DEFAULT_ALLOW_PROFILE,
  type EndpointPortArgs,
  FAILSAFE_GAPS,
  HostEndpoint,
  type HostEndpointArgs,
} from "./hostEndpoint";
export type {
  ConnectionArgs,
  EntityRuleArgs,
  IcmpArgs,
  LocalConnectionArgs,
  NetnsConnectionArgs,
  ProtoPortArgs,
  ReachableFlowArgs,
  RuleArgs,
  RuleMetadataArgs,
  ServiceAccountsArgs,
  ServiceArgs,
  SshConnectionArgs,
  SshEndpointArgs,
  XdpHostEndpointArgs,
  XdpNetworkSetArgs,
  XdpNodeArgs,
} from "./inputs";
export { PreDnatPolicy, type PreDnatPolicyArgs } from "./preDnatPolicy";
export { UntrackedPolicy, type UntrackedPolicyArgs, type UntrackedPolicyXdpArgs } from "./untrackedPolicy";
// The XDP filter's contract: compile a policy, evaluate it, build test packets.
export { type CompiledPolicy, compileXdpPolicy } from "./xdp/compile";
export { evaluatePolicy, type Verdict } from "./xdp/evaluate";
export { MAX_CIDRS, MAX_FAILSAFE, MAX_RULES } from "./xdp/layout";
export { buildPacket, type PacketSpec, type ParsedPacket, parsePacket } from "./xdp/packet";
export type {
  XdpHostEndpointInput,
  XdpNetworkSetInput,
  XdpPolicy,
  XdpPolicyInput,
} from "./xdp/policy";
export type { Connection, NodeAttachment, XdpNode } from "./xdp/programArgs";
export { XDP_PROGRAM_TYPE, XdpProgram, type XdpProgramArgs } from "./xdpProgram";
