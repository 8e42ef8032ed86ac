/**
 * Conntrack vs untracked: a Redis host protected as Calico protects a host endpoint, with a normal
 * (tracked) policy and with a doNotTrack policy (Felix's raw-table NOTRACK rules for our policy and its
 * mirrored return rule), measured with a new connection per request; then with the conntrack table
 * made small, the fraction of connections that get through.
 * Run: npm run bench:conntrack (root; iptables, redis-server, redis-benchmark)
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { createFloodbed, type Floodbed, inNetns, redisBenchmark, startPinnedRedis } from "./floodbed";
import { barChart, formatSample, gitRevision, machine, publish, type Sample, summarize } from "./report";
import { withSysctl } from "./sysctl";

const RUNS = 3;
const REQUESTS = 10_000;
const TABLE_MAX = 1024;
const ATTEMPTS = 2 * TABLE_MAX;
const CONCURRENCY = 50;

type Protection = "tracked" | "untracked";

/** Felix's mark for "allowed by an untracked policy" (its default IptablesMarkMask bit). */
const ACCEPT_MARK = "0x10000/0x10000";

/** iptables-restore input for the victim: our policy (allow the client to 6379, deny the rest of 6379). */
function rules(protection: Protection, client: string): string {
  if (protection === "tracked") {
    return `*filter
:INPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -s ${client}/32 --dport 6379 -j ACCEPT
-A INPUT -p tcp --dport 6379 -j DROP
COMMIT
`;
  }
  // doNotTrack: decided in raw before conntrack, both directions (the mirrored return rule), and
  // accepted in filter by mark since conntrack knows nothing of these packets.
  return `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -s ${client}/32 --dport 6379 -j MARK --set-xmark ${ACCEPT_MARK}
-A PREROUTING -m mark --mark ${ACCEPT_MARK} -j CT --notrack
-A PREROUTING -m mark --mark ${ACCEPT_MARK} -j ACCEPT
-A PREROUTING -p tcp --dport 6379 -j DROP
-A OUTPUT -p tcp -d ${client}/32 --sport 6379 -j MARK --set-xmark ${ACCEPT_MARK}
-A OUTPUT -m mark --mark ${ACCEPT_MARK} -j CT --notrack
COMMIT
*filter
:INPUT ACCEPT [0:0]
-A INPUT -m mark --mark ${ACCEPT_MARK} -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp --dport 6379 -j DROP
COMMIT
`;
}

/** A fresh testbed (an empty conntrack table) with Redis on CPU 1 and the protection in place. */
async function protectedHost(protection: Protection): Promise<{ bed: Floodbed; stop: () => void }> {
  const bed = createFloodbed();
  try {
    await inNetns(bed.victim.netns, "iptables-restore", [], { input: rules(protection, bed.client.address) });
    // The client closes first, so each closed connection holds a client port in TIME_WAIT for a
    // minute: every measurement gets a fresh client namespace instead of reusing ports.
    const redis = await startPinnedRedis(bed);
    return {
      bed,
      stop: () => {
        redis.stop();
        bed.destroy();
      },
    };
  } catch (error) {
    bed.destroy();
    throw error;
  }
}

const conntrackCount = (netns: string) =>
  inNetns(netns, "sysctl", ["-n", "net.netfilter.nf_conntrack_count"]).then(Number);

function newConnectionRps(bed: Floodbed): Promise<number> {
  return redisBenchmark(bed, {
    cpu: 0,
    requests: REQUESTS,
    clients: 10,
    extra: ["-k", "0"],
    timeoutMs: 300_000,
  });
}

async function connectMany(bed: Floodbed): Promise<{ ok: number; failed: number }> {
  const script = join(__dirname, "connectMany.js");
  const out = await inNetns(
    bed.client.netns,
    process.execPath,
    [script, bed.victim.address, "6379", String(ATTEMPTS), String(CONCURRENCY), "1000"],
    { timeoutMs: 300_000 },
  );
  return JSON.parse(out);
}

async function main(): Promise<void> {
  const rates: Record<Protection, number[]> = { tracked: [], untracked: [] };
  const entries: Record<Protection, number> = { tracked: 0, untracked: 0 };
  for (let i = 0; i < RUNS; i++) {
    for (const protection of ["tracked", "untracked"] as const) {
      const host = await protectedHost(protection);
      try {
        rates[protection].push(await newConnectionRps(host.bed));
        entries[protection] = await conntrackCount(host.bed.victim.netns);
      } finally {
        host.stop();
      }
    }
    console.error(
      `run ${i + 1}: tracked ${rates.tracked.at(-1)} rps, untracked ${rates.untracked.at(-1)} rps`,
    );
  }

  const rootCount = Number(
    execFileSync("sysctl", ["-n", "net.netfilter.nf_conntrack_count"], { encoding: "utf8" }),
  );
  if (rootCount > TABLE_MAX / 2)
    throw new Error(
      `this host tracks ${rootCount} connections itself: lowering nf_conntrack_max to ${TABLE_MAX} would cut it off`,
    );
  const full: Record<Protection, { ok: number; failed: number }> = {} as never;
  for (const protection of ["tracked", "untracked"] as const) {
    const host = await protectedHost(protection);
    try {
      full[protection] = await withSysctl("net.netfilter.nf_conntrack_max", TABLE_MAX, () =>
        connectMany(host.bed),
      );
    } finally {
      host.stop();
    }
    console.error(`table of ${TABLE_MAX}: ${protection} ${full[protection].ok}/${ATTEMPTS}`);
  }

  const facts = machine();
  const tracked = summarize(rates.tracked);
  const untracked = summarize(rates.untracked);
  const fmt = (s: Sample) => formatSample(s);
  const share = (p: Protection) => full[p].ok / ATTEMPTS;
  const rateNote =
    Math.abs(untracked.median / tracked.median - 1) < 0.15
      ? `At about ${(tracked.median / 1000).toFixed(0)}k new connections per second (what redis-benchmark's connect and close in user space allow here) the cost of tracking is within the run-to-run spread; what untracking changes is the table: ${entries.tracked} entries left behind by ${REQUESTS} tracked requests, against ${entries.untracked}.`
      : `Untracked serves ${(untracked.median / tracked.median).toFixed(2)}x the tracked rate; ${entries.tracked} entries were left behind by ${REQUESTS} tracked requests, against ${entries.untracked}.`;
  const markdown = `## Conntrack vs untracked

Setup: a Redis host and a client in two network namespaces joined by a veth pair; Redis on CPU 1, the
client on CPU 0. The host is protected the way Calico protects a host endpoint with our policy (allow
the client to TCP 6379, deny the rest of 6379), reproduced with iptables (\`${execFileSync("iptables", ["-V"], { encoding: "utf8" }).trim()}\`):
**tracked** is a normal policy (filter INPUT, accepting established connections through conntrack);
**untracked** is the \`doNotTrack\` policy as Felix renders it: raw PREROUTING marks and NOTRACKs the
allowed packets, raw OUTPUT does the same for the mirrored return rule, filter INPUT accepts the mark.
Each run starts from a fresh namespace (an empty conntrack table). Kernel ${facts.kernel}, CPU ${facts.cpu}
(${facts.cores} cores), ${facts.date.slice(0, 10)}, revision ${gitRevision()}; ${RUNS} runs, median (min–max).

\`redis-benchmark -k 0 -t ping_inline -n ${REQUESTS} -c 10\` (a new connection per request):

| protection | requests/s | conntrack entries left on the host | vs tracked |
|---|---|---|---|
| tracked | ${fmt(tracked)} | ${entries.tracked} | 1.00 |
| untracked (doNotTrack) | ${fmt(untracked)} | ${entries.untracked} | ${(untracked.median / tracked.median).toFixed(2)} |

${rateNote}

Table full: \`net.netfilter.nf_conntrack_max\` lowered to ${TABLE_MAX} (host-wide; restored afterwards,
also on failure), then ${ATTEMPTS} connections (${CONCURRENCY} at a time, PING then close, 1 s to answer):

| protection | connections that succeed |
|---|---|
| tracked | ${full.tracked.ok} of ${ATTEMPTS} (${(100 * share("tracked")).toFixed(1)}%) |
| untracked (doNotTrack) | ${full.untracked.ok} of ${ATTEMPTS} (${(100 * share("untracked")).toFixed(1)}%) |

Closed connections stay in the table (TIME_WAIT, assured, so never evicted early) for two minutes: a
tracked host that takes many short connections runs out of entries and drops new SYNs; an untracked one
never creates them.`;
  const chart = barChart("New connection per request: redis-benchmark -k 0", "rps", [
    { label: "tracked", sample: tracked },
    { label: "untracked (doNotTrack)", sample: untracked },
  ]);
  publish(
    "conntrack",
    {
      machine: facts,
      revision: gitRevision(),
      runs: RUNS,
      requests: REQUESTS,
      rates: { tracked, untracked },
      conntrackEntries: entries,
      tableFull: { max: TABLE_MAX, attempts: ATTEMPTS, ...full },
    },
    markdown,
    chart,
  );
  console.log(markdown);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
