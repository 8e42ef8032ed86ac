/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/* The program's maps. Names are the pin file names, so they stay within 15 characters. */
#ifndef XDP_POLICY_MAPS_H
#define XDP_POLICY_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xdp_policy_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct policy_config);
} config SEC(".maps");

#define EXACT_MAP(name, key_type)                          \
	struct {                                           \
		__uint(type, BPF_MAP_TYPE_HASH);           \
		__uint(max_entries, MAX_ADDR_ENTRIES);     \
		__uint(map_flags, BPF_F_NO_PREALLOC);      \
		__type(key, key_type);                     \
		__type(value, struct addr_match);          \
	} name SEC(".maps")

#define LPM_MAP(name, key_type)                            \
	struct {                                           \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);       \
		__uint(max_entries, MAX_ADDR_ENTRIES);     \
		__uint(map_flags, BPF_F_NO_PREALLOC);      \
		__type(key, key_type);                     \
		__type(value, struct addr_match);          \
	} name SEC(".maps")

struct v6_addr {
	__u8 bytes[16];
};

EXACT_MAP(src_v4_exact, __u32);
LPM_MAP(src_v4_lpm, struct lpm_v4_key);
EXACT_MAP(src_v6_exact, struct v6_addr);
LPM_MAP(src_v6_lpm, struct lpm_v6_key);
EXACT_MAP(dst_v4_exact, __u32);
LPM_MAP(dst_v4_lpm, struct lpm_v4_key);
EXACT_MAP(dst_v6_exact, struct v6_addr);
LPM_MAP(dst_v6_lpm, struct lpm_v6_key);

#define VALUE_MAP(name, entries)                           \
	struct {                                           \
		__uint(type, BPF_MAP_TYPE_ARRAY);          \
		__uint(max_entries, entries);              \
		__type(key, __u32);                        \
		__type(value, struct value_match);         \
	} name SEC(".maps")

VALUE_MAP(proto_match, 256);
VALUE_MAP(sport_match, 65536);
VALUE_MAP(dport_match, 65536);
VALUE_MAP(icmp_match, 65536);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} failsafe_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct counter);
} rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_COUNT);
	__type(key, __u32);
	__type(value, struct counter);
} verdict_stats SEC(".maps");

#endif
