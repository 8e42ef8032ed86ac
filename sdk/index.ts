export * from "./calico/cidr";
export * from "./calico/ports";
export type { CalicoObject } from "./calico/render";
export { compact } from "./calico/render";
export * from "./calico/resources";
export * from "./calico/rule";
export {
  matchesSelector,
  parseSelector,
  printSelector,
  type SelectorNode,
  SelectorSyntaxError,
  selector,
} from "./calico/selector";
export * from "./calico/untracked";
export { ValidationError } from "./calico/zodkit";
export * from "./felixConfiguration";
export * from "./globalNetworkSet";
export * from "./hostEndpoint";
export * from "./untrackedPolicy";
export { type CompiledPolicy, compileXdpPolicy, encodeMaps, mapsDigest } from "./xdp/compile";
export { evaluatePolicy, type Verdict } from "./xdp/evaluate";
export { MAX_CIDRS, MAX_FAILSAFE, MAX_RULES } from "./xdp/layout";
export { buildPacket, type PacketSpec, type ParsedPacket, parsePacket } from "./xdp/packet";
export { type XdpPolicy, type XdpPolicyInput, xdpPolicySchema } from "./xdp/policy";
export { type Connection, type NodeAttachment, type XdpNode, xdpProgramArgsSchema } from "./xdp/programArgs";
export * from "./xdpProgram";
