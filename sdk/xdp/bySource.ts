import { type AddrMatch, BY_SOURCE_NO_MATCH, type PolicyConfig } from "./layout";

/**
 * addr_match.by_source for the source entries of one family: whether the source address alone decides
 * every packet the failsafe check leaves, so that the program looks at no other field.
 *
 * A rule is false by source when it is of the other family, its source nets miss the address, its
 * notNets hold it, its selector selects no object holding it (in a closed scope: an open one leaves
 * that unknown), or its notSelector selects one that does. A rule is true by source when its only
 * matchers are source ones and each is true for the address. The source decides when, in rule order,
 * every rule is false by source up to one that is true by source and no Log rule (a Log match is
 * counted and passed over, so the rules after it decide): that rule's index + 1. BY_SOURCE_NO_MATCH
 * when every rule is false by source; 0 when the rules must be evaluated.
 *
 * The program's own evaluation (bpf/xdp_policy.c) gives the same answer for each packet, which the
 * differential test checks against the reference evaluator. Entries with the same masks come in runs
 * (a deny list's are all alike), so the last answer is reused.
 */
export function sourceDecider(config: PolicyConfig, family: 4 | 6): (match: AddrMatch) => number {
  const c = config;
  const otherMatchers =
    c.dst_nets |
    c.dst_not_nets |
    c.dst_sel |
    c.dst_not_sel |
    c.protocol |
    c.not_protocol |
    c.sport_list |
    c.sport_not |
    c.dport_list |
    c.dport_not |
    c.icmp |
    c.not_icmp |
    c.uncompilable;
  const otherFamily = c.rules & ~(family === 4 ? c.v4_rules : c.v6_rules);
  let last: AddrMatch | undefined;
  let lastAnswer = 0;
  return (m) => {
    if (
      last !== undefined &&
      last.nets === m.nets &&
      last.not_nets === m.not_nets &&
      last.sel === m.sel &&
      last.not_sel === m.not_sel
    )
      return lastAnswer;
    const falseBySource =
      otherFamily |
      (c.src_nets & ~m.nets) |
      m.not_nets |
      (c.src_sel & ~m.sel & ~c.sel_open) |
      (c.src_not_sel & m.not_sel);
    // Of the rules not false by source, those it leaves open.
    const notDecided =
      otherMatchers | c.log | (c.src_sel & ~m.sel) | (c.src_not_sel & ~m.not_sel & c.sel_open);
    let answer = BY_SOURCE_NO_MATCH;
    for (let i = 0; i < c.rule_count; i++) {
      const bit = 1n << BigInt(i);
      if (falseBySource & bit) continue;
      answer = notDecided & bit ? 0 : i + 1;
      break;
    }
    last = m;
    lastAnswer = answer;
    return answer;
  };
}
