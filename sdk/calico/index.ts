/**
 * `pulumi-calico-xdp/calico`: Calico's validation and selector grammar without Pulumi, for checking
 * hand-written objects (as `calico-xdp validate` does) and working with selectors.
 * @packageDocumentation
 */

export {
  matchesSelector,
  parseSelector,
  printSelector,
  type SelectorNode,
  SelectorSyntaxError,
  selector,
} from "./selector";
export { type ObjectVerdict, objectsOf, VALIDATED_KINDS, validateCalicoObject } from "./validate";
