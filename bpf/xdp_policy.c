// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * Enforces a Calico untracked policy's ingress rules in XDP.
 *
 * Contract (docs/xdp-filter.md): drop only what Calico's own evaluation of the same policy would deny.
 * Every matcher is three-valued (true, false, unknown); a rule matches when all its matchers are true
 * and is undecidable when none is false but some is unknown. The failsafe ports are checked first, then
 * the rules in order: Allow/Pass -> XDP_PASS, Deny -> XDP_DROP, Log -> count and continue, no match
 * -> next rule, undecidable -> stop and XDP_PASS (iptables decides). Selectors are resolved into the
 * address tables for the network sets and host endpoints the policy was compiled with.
 *
 * The policy is compiled (sdk/xdp/compile.ts) into masks over rule indices, so evaluating all
 * rules costs one lookup per packet field, whatever the number of rules or CIDRs. Where the source
 * address alone decides (a deny list's hit, a source no rule lists), its entry says so and the other
 * fields are not looked at.
 */
#include "parse.h"

struct eval {
	__u64 valid;
	__u64 t; /* rules whose matchers are all true so far */
	__u64 f; /* rules with a false matcher */
};

/* One matcher class: `t` = rules for which it is true (rules without the matcher included), `u` =
 * rules for which it is unknown; the rest are false. */
static __always_inline void matcher(struct eval *e, __u64 t, __u64 u)
{
	e->f |= e->valid & ~(t | u);
	e->t &= t;
}

/* Entry `index` of generation `gen` in an interleaved generational ARRAY (xdp_policy_shared.h). */
static __always_inline void *gen_entry(void *map, __u32 gen, __u32 index)
{
	__u32 k = index * GENERATIONS + gen;
	return bpf_map_lookup_elem(map, &k);
}

/* The address's entry (NULL when it has none): the hash of exact addresses first (when the policy has
 * any), then the LPM trie of prefixes; either holds the entry's index in addr_match. */
#define LOOKUP_ADDR(m, p, gen, addr4, addr6, exact4, lpm4, exact6, lpm6, has_exact4, has_exact6, has_lpm4,   \
		    has_lpm6)                                                                         \
	do {                                                                                          \
		__u32 *ref_ = 0;                                                                      \
		if ((p)->family == 4) {                                                               \
			if (has_exact4) {                                                             \
				struct v4_key k_ = {.gen = (gen)};                                    \
				__builtin_memcpy(k_.addr, &(addr4), 4);                               \
				ref_ = bpf_map_lookup_elem(&exact4, &k_);                             \
			}                                                                             \
			if (!ref_ && (has_lpm4)) {                                                    \
				struct lpm_v4_key k_ = {.prefixlen = GEN_PREFIX_BITS + 32, .gen = (gen)}; \
				__builtin_memcpy(k_.addr, &(addr4), 4);                               \
				ref_ = bpf_map_lookup_elem(&lpm4, &k_);                               \
			}                                                                             \
		} else {                                                                              \
			if (has_exact6) {                                                             \
				struct v6_key k_ = {.gen = (gen)};                                    \
				__builtin_memcpy(k_.addr, &(addr6), 16);                              \
				ref_ = bpf_map_lookup_elem(&exact6, &k_);                             \
			}                                                                             \
			if (!ref_ && (has_lpm6)) {                                                    \
				struct lpm_v6_key k_ = {.prefixlen = GEN_PREFIX_BITS + 128, .gen = (gen)}; \
				__builtin_memcpy(k_.addr, &(addr6), 16);                              \
				ref_ = bpf_map_lookup_elem(&lpm6, &k_);                               \
			}                                                                             \
		}                                                                                     \
		if (ref_)                                                                             \
			m = gen_entry(&addr_match, (gen), *ref_);                                     \
	} while (0)

/* The entry for `key` of generation `gen` in an ARRAY of value_match (all zero when absent). */
#define LOOKUP_VALUE(out, map, gen, key)                        \
	do {                                                    \
		struct value_match *v_ = gen_entry(&map, gen, key); \
		if (v_)                                         \
			out = *v_;                              \
	} while (0)

static __always_inline void count(void *map, __u32 index, __u64 bytes)
{
	struct counter *c = bpf_map_lookup_elem(map, &index);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Counts every rule in `rules`. A global function, so the verifier checks its loop once instead of
 * on every path through the parser. */
__noinline int count_rules(__u64 rules, __u64 bytes)
{
	for (__u32 i = 0; i < MAX_RULES; i++) {
		if (rules & (1ULL << i))
			count(&rule_stats, i, bytes);
	}
	return 0;
}

/* Whether a failsafe entry lists `port` in `slot` (see FAILSAFE_BIT_WORDS): two array lookups, which
 * the verifier inlines, spare the hash lookups for the ports no entry lists. */
static __always_inline int failsafe_listed(__u32 gen, __u32 slot, __u16 port)
{
	__u64 *word = gen_entry(&failsafe_bits, gen, (slot << 16 | port) >> 6);
	return word && (*word >> (port & 63)) & 1;
}

static __always_inline __u64 failsafe_hits(__u32 gen, __u32 proto_port)
{
	struct failsafe_key key = {.gen = gen, .proto_port = proto_port};
	__u64 *hits = bpf_map_lookup_elem(&failsafe_ports, &key);
	return hits ? *hits : 0;
}

/* Failsafe check (inbound entries by destination port, outbound ones by source port): 1 true, 0
 * false, -1 unknown. `src_entries`: the entries whose net holds the source, or that have none. */
static __always_inline int failsafe(struct policy_config *cfg, struct packet *p, __u32 gen, __u64 src_entries)
{
	if (!p->proto_known)
		return src_entries ? -1 : 0;
	__u64 by_proto = p->protocol == IPPROTO_TCP	 ? cfg->failsafe_tcp
			 : p->protocol == IPPROTO_UDP	 ? cfg->failsafe_udp
			 : p->protocol == IPPROTO_SCTP ? cfg->failsafe_sctp
							 : 0;
	if (p->l4 == L4_UNKNOWN)
		return (by_proto & src_entries) ? -1 : 0;
	if (p->l4 != L4_PORTS || !(by_proto & src_entries))
		return 0;
	if (!((cfg->failsafe_port_hint >> failsafe_hint_bit(p->dport)) & 1) &&
	    !((cfg->failsafe_port_hint >> failsafe_hint_bit(p->sport)) & 1))
		return 0;
	__u32 proto = (__u32)p->protocol << 16;
	__u32 slot = p->protocol == IPPROTO_TCP ? 0 : p->protocol == IPPROTO_UDP ? 1 : 2;
	__u64 hits = 0;
	if (failsafe_listed(gen, slot, p->dport))
		hits |= failsafe_hits(gen, proto | p->dport);
	if (failsafe_listed(gen, FAILSAFE_SLOTS / 2 + slot, p->sport))
		hits |= failsafe_hits(gen, FAILSAFE_BY_SOURCE_PORT | proto | p->sport);
	return (hits & src_entries) != 0;
}

/* A side's selector and notSelector, from the address's entry: members of a selected object are in
 * `sel` / `not_sel`; any other address is unknown for open-scope rules and a non-member for the rest. */
static __always_inline void selector_matchers(struct eval *e, struct addr_match *a, __u64 sel, __u64 not_sel, __u64 open)
{
	matcher(e, ~sel | a->sel, sel & ~a->sel & open);
	matcher(e, ~not_sel | (~a->not_sel & ~open), not_sel & ~a->not_sel & open);
}

/* Ports and notPorts; `v` is the port's entry when the packet has ports. */
static __always_inline void port_matchers(struct eval *e, struct packet *p, struct value_match *v, __u64 list,
					  __u64 named, __u64 not, __u64 not_named)
{
	__u64 any = list | not;
	if (p->l4 == L4_PORTS) {
		matcher(e, ~list | v->in_list, list & named & ~v->in_list);
		matcher(e, ~(v->in_not_list | not_named), not_named & ~v->in_not_list);
	} else if (p->l4 == L4_UNKNOWN) {
		matcher(e, ~any, any);
	} else {
		matcher(e, ~any, 0);
	}
}

/* Index of the lowest set bit of a non-zero mask. (clang 14's BPF backend crashes on __builtin_ctzll here.) */
static __always_inline __u32 lowest_bit(__u64 x)
{
	__u32 n = 0;
	if (!(x & 0xffffffffULL)) {
		n += 32;
		x >>= 32;
	}
	if (!(x & 0xffff)) {
		n += 16;
		x >>= 16;
	}
	if (!(x & 0xff)) {
		n += 8;
		x >>= 8;
	}
	if (!(x & 0xf)) {
		n += 4;
		x >>= 4;
	}
	if (!(x & 0x3)) {
		n += 2;
		x >>= 2;
	}
	return n + !(x & 0x1);
}

/* The verdict of matching rule `first` (not a Log rule), counted. */
static __always_inline __u32 rule_verdict(struct policy_config *cfg, __u32 first, __u64 bytes)
{
	__u64 bit = 1ULL << first;
	count(&rule_stats, first, bytes);
	if (cfg->deny & bit)
		return REASON_DENY;
	return (cfg->allow & bit) ? REASON_ALLOW : REASON_PASS;
}

/* What evaluate() returns besides a deciding rule's index + 1 (the encoding of addr_match.by_source). */
#define EVAL_NO_MATCH BY_SOURCE_NO_MATCH
#define EVAL_UNDECIDABLE (MAX_RULES + 2)

/* Evaluates every rule for a packet its source did not decide; counts the Log rules it passes. Not
 * inlined, so the path the source decides (a deny list's hits, unlisted sources) stays a short
 * straight line kept in registers. */
static __noinline __u32 evaluate(struct packet *p, struct policy_config *cfg, __u32 gen, struct addr_match *s,
				 __u64 bytes)
{
	struct addr_match src = {}, dst = {}, *d = 0;
	if (s)
		src = *s;
	LOOKUP_ADDR(d, p, gen, p->daddr4, p->daddr6, dst_v4_exact, dst_v4_lpm, dst_v6_exact, dst_v6_lpm,
		    cfg->flags & CONFIG_DST_V4_EXACT, cfg->flags & CONFIG_DST_V6_EXACT, cfg->flags & CONFIG_DST_V4_PREFIX,
		    cfg->flags & CONFIG_DST_V6_PREFIX);
	if (d)
		dst = *d;

	struct eval e = {.valid = cfg->rules, .t = cfg->rules, .f = 0};
	matcher(&e, p->family == 4 ? cfg->v4_rules : cfg->v6_rules, 0);
	matcher(&e, ~cfg->src_nets | src.nets, 0);
	matcher(&e, ~src.not_nets, 0);
	matcher(&e, ~cfg->dst_nets | dst.nets, 0);
	matcher(&e, ~dst.not_nets, 0);
	selector_matchers(&e, &src, cfg->src_sel, cfg->src_not_sel, cfg->sel_open);
	selector_matchers(&e, &dst, cfg->dst_sel, cfg->dst_not_sel, cfg->sel_open);

	__u64 protos = cfg->protocol | cfg->not_protocol;
	if (p->proto_known) {
		struct value_match v = {};
		if (protos)
			LOOKUP_VALUE(v, proto_match, gen, p->protocol);
		matcher(&e, ~cfg->protocol | v.in_list, 0);
		matcher(&e, ~v.in_not_list, 0);
	} else {
		matcher(&e, ~protos, protos);
	}

	struct value_match sport = {}, dport = {};
	if (p->l4 == L4_PORTS) {
		if (cfg->sport_list | cfg->sport_not)
			LOOKUP_VALUE(sport, sport_match, gen, p->sport);
		if (cfg->dport_list | cfg->dport_not)
			LOOKUP_VALUE(dport, dport_match, gen, p->dport);
	}
	port_matchers(&e, p, &sport, cfg->sport_list, cfg->sport_named, cfg->sport_not, cfg->sport_not_named);
	port_matchers(&e, p, &dport, cfg->dport_list, cfg->dport_named, cfg->dport_not, cfg->dport_not_named);

	__u64 icmps = cfg->icmp | cfg->not_icmp;
	if (p->l4 == L4_ICMP) {
		struct value_match v = {};
		if (icmps)
			LOOKUP_VALUE(v, icmp_match, gen, (__u32)p->icmp_type << 8 | p->icmp_code);
		matcher(&e, ~cfg->icmp | v.in_list, 0);
		matcher(&e, ~v.in_not_list, 0);
	} else {
		matcher(&e, ~icmps, p->l4 == L4_UNKNOWN ? icmps : 0);
	}

	matcher(&e, ~cfg->uncompilable, cfg->uncompilable);

	__u64 undecidable = e.valid & ~e.t & ~e.f;
	__u64 stop = (e.t & ~cfg->log) | undecidable;
	__u64 logged = e.t & cfg->log;
	__u32 first = stop ? lowest_bit(stop) : MAX_RULES;
	if (first < MAX_RULES)
		logged &= (1ULL << first) - 1;
	if (logged)
		count_rules(logged, bytes);
	if (first >= MAX_RULES)
		return EVAL_NO_MATCH;
	if (undecidable & (1ULL << first))
		return EVAL_UNDECIDABLE;
	return first + 1;
}

/* Decides a parsed IP packet. */
static __always_inline __u32 decide(struct packet *p, struct policy_config *cfg, __u32 gen, __u64 bytes)
{
	struct addr_match *s = 0;
	LOOKUP_ADDR(s, p, gen, p->saddr4, p->saddr6, src_v4_exact, src_v4_lpm, src_v6_exact, src_v6_lpm,
		    cfg->flags & CONFIG_SRC_V4_EXACT, cfg->flags & CONFIG_SRC_V6_EXACT, cfg->flags & CONFIG_SRC_V4_PREFIX,
		    cfg->flags & CONFIG_SRC_V6_PREFIX);
	int safe = failsafe(cfg, p, gen, (s ? s->failsafe : 0) | cfg->failsafe_any_net);
	if (safe > 0)
		return REASON_FAILSAFE;
	if (safe < 0)
		return REASON_UNDECIDABLE;
	__u32 decided = s ? s->by_source : p->family == 4 ? cfg->v4_absent_by_source : cfg->v6_absent_by_source;
	if (!decided)
		decided = evaluate(p, cfg, gen, s, bytes);
	if (decided == EVAL_UNDECIDABLE)
		return REASON_UNDECIDABLE;
	if (decided == EVAL_NO_MATCH)
		return REASON_NO_MATCH;
	return rule_verdict(cfg, decided - 1, bytes);
}

SEC("xdp")
int calico_xdp_policy(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	struct packet p = {};
	__u32 reason;
	__u32 zero = 0;
	/* One generation for the whole packet: an update switches generations, never entries under it. */
	__u32 *active = bpf_map_lookup_elem(&active_gen, &zero);
	__u32 gen = active ? *active & (GENERATIONS - 1) : 0;
	struct policy_config *cfg = gen_entry(&config, gen, 0);
	int parsed = parse_packet(ctx, &p);

	if (parsed == PARSE_NON_IP)
		reason = REASON_NON_IP;
	else if (parsed == PARSE_MALFORMED)
		reason = REASON_MALFORMED;
	else if (!cfg)
		reason = REASON_NO_MATCH;
	else
		reason = decide(&p, cfg, gen, bytes);
	if (reason == REASON_DENY && cfg && (cfg->flags & CONFIG_SHADOW))
		reason = REASON_SHADOW_DENY;

	/* The one exit: every packet is counted by the reason it got its verdict. */
	count(&verdict_stats, reason, bytes);
	return reason == REASON_DENY ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
