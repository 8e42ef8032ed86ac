// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * The traffic generator's frame writer. BPF_PROG_RUN runs it with BPF_F_TEST_XDP_LIVE_FRAMES on one
 * template frame; it gives each frame the next source address of `sources` and redirects it into one
 * end of a veth pair, so the peer's XDP program receives it as from a NIC driver: an xdp_frame, with no
 * skb unless the peer passes it. Live frames keep what a previous run wrote, so every run rewrites the
 * source and the IPv4 header checksum whole.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAX_SOURCES (1 << 20)

struct gen_config {
	__u32 ifindex; /* where frames go: the sender's end of the veth pair */
	__u32 count;   /* sources in use, 1..MAX_SOURCES */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_config);
} config SEC(".maps");

/* IPv4 sources in the first 4 bytes, IPv6 in all 16: the template's family decides. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SOURCES);
	__type(key, __u32);
	__type(value, struct in6_addr);
} sources SEC(".maps");

/* Frames written, per CPU: the next source is sources[written % count]. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} written SEC(".maps");

static __always_inline __u16 ipv4_checksum(const struct iphdr *iph)
{
	const __u16 *word = (const __u16 *)iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*iph) / 2); i++)
		sum += word[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int xdp_trafficgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 zero = 0;

	struct gen_config *cfg = bpf_map_lookup_elem(&config, &zero);
	__u64 *count = bpf_map_lookup_elem(&written, &zero);
	if (!cfg || !count || cfg->count == 0 || (void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__u32 index = (__u32)(*count % cfg->count);
	(*count)++;
	struct in6_addr *source = bpf_map_lookup_elem(&sources, &index);
	if (!source)
		return XDP_ABORTED;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > data_end)
			return XDP_ABORTED;
		__builtin_memcpy(&iph->saddr, source, 4);
		iph->check = 0;
		iph->check = ipv4_checksum(iph);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);
		if ((void *)(ip6h + 1) > data_end)
			return XDP_ABORTED;
		ip6h->saddr = *source;
	} else {
		return XDP_ABORTED;
	}
	return bpf_redirect(cfg->ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
