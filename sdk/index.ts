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
