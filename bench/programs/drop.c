// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/* Baseline for the receiver: drop every frame, deciding nothing. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
