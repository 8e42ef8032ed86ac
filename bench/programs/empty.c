// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/* Baseline: the cost of entering an XDP program at all. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
