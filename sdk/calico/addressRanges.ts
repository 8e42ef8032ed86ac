import { bitsOf, formatIp, type IpNetwork } from "./cidr";

/**
 * A set of addresses of one IP family as sorted, disjoint, non-adjacent inclusive ranges: what a
 * reachability proof needs to say "every address of 10.0.0.0/8 but these" exactly.
 */
export class AddressRanges {
  private constructor(
    readonly version: 4 | 6,
    private readonly ranges: readonly (readonly [bigint, bigint])[],
  ) {}

  static none(version: 4 | 6): AddressRanges {
    return new AddressRanges(version, []);
  }

  static all(version: 4 | 6): AddressRanges {
    return new AddressRanges(version, [[0n, (1n << BigInt(bitsOf(version))) - 1n]]);
  }

  /** The addresses of the networks of this family (others are ignored), in any order. */
  static of(version: 4 | 6, networks: Iterable<IpNetwork>): AddressRanges {
    const bits = BigInt(bitsOf(version));
    const spans: [bigint, bigint][] = [];
    for (const n of networks) {
      if (n.version !== version) continue;
      spans.push([n.address, n.address + (1n << (bits - BigInt(n.prefixLength))) - 1n]);
    }
    spans.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: [bigint, bigint][] = [];
    for (const [lo, hi] of spans) {
      const last = merged[merged.length - 1];
      if (last && lo <= last[1] + 1n) {
        if (hi > last[1]) last[1] = hi;
      } else merged.push([lo, hi]);
    }
    return new AddressRanges(version, merged);
  }

  isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** The lowest address, as text; undefined when empty. */
  first(): string | undefined {
    const range = this.ranges[0];
    return range && formatIp(this.version, range[0]);
  }

  /** Whether every address of `other` is in this set. */
  covers(other: AddressRanges): boolean {
    return other.minus(this).isEmpty();
  }

  intersect(other: AddressRanges): AddressRanges {
    const out: [bigint, bigint][] = [];
    let i = 0;
    let j = 0;
    while (i < this.ranges.length && j < other.ranges.length) {
      const [a0, a1] = this.ranges[i]!;
      const [b0, b1] = other.ranges[j]!;
      let lo = a0;
      if (b0 > lo) lo = b0;
      let hi = a1;
      if (b1 < hi) hi = b1;
      if (lo <= hi) out.push([lo, hi]);
      if (a1 < b1) i++;
      else j++;
    }
    return new AddressRanges(this.version, out);
  }

  minus(other: AddressRanges): AddressRanges {
    const out: [bigint, bigint][] = [];
    let j = 0;
    for (const [lo, hi] of this.ranges) {
      let start = lo;
      while (j < other.ranges.length && other.ranges[j]![1] < start) j++;
      let k = j;
      while (start <= hi && k < other.ranges.length && other.ranges[k]![0] <= hi) {
        const [b0, b1] = other.ranges[k]!;
        if (b0 > start) out.push([start, b0 - 1n]);
        start = b1 + 1n;
        k++;
      }
      if (start <= hi) out.push([start, hi]);
    }
    return new AddressRanges(this.version, out);
  }
}
