import type {
  ApiVersion,
  FelixConfigurationSpec,
  GlobalNetworkPolicySpec,
  GlobalNetworkSetSpec,
  HostEndpointSpec,
} from "./resources";

/** A rendered Calico object, ready for `CustomResource` or YAML. */
export interface CalicoObject {
  readonly apiVersion: ApiVersion;
  readonly kind: "HostEndpoint" | "GlobalNetworkPolicy" | "GlobalNetworkSet" | "FelixConfiguration";
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec: Record<string, unknown>;
}

/**
 * Drops undefined values, empty arrays and empty objects (recursively) and keeps key order, so a
 * rendered object only shows what was set and two renders of the same args are byte-identical.
 */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) {
    return value.map(compact).filter((v) => !isEmpty(v)) as T;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .map(([k, v]) => [k, compact(v)] as const)
      .filter(([, v]) => !isEmpty(v));
    return Object.fromEntries(entries) as T;
  }
  return value;
}

function isEmpty(value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return value !== null && typeof value === "object" && Object.keys(value).length === 0;
}

interface Meta {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly apiVersion: ApiVersion;
}

/** `meaningful`: top-level spec lists whose emptiness means something (`[]` is not "unset"), kept when empty. */
function render(
  kind: CalicoObject["kind"],
  meta: Meta,
  spec: object,
  meaningful: readonly string[] = [],
): CalicoObject {
  const kept = Object.fromEntries(
    Object.entries(spec).filter(([k, v]) => meaningful.includes(k) && Array.isArray(v) && v.length === 0),
  );
  const compacted = compact({ ...spec }) as Record<string, unknown>;
  return {
    apiVersion: meta.apiVersion,
    kind,
    metadata: compact({ name: meta.name, labels: meta.labels }),
    // In the spec's own key order, so two renders stay byte-identical.
    spec: Object.fromEntries(
      Object.keys(spec)
        .filter((k) => k in compacted || k in kept)
        .map((k) => [k, compacted[k] ?? kept[k]]),
    ),
  };
}

export const renderHostEndpoint = (meta: Meta, spec: HostEndpointSpec): CalicoObject =>
  render("HostEndpoint", meta, spec);

export const renderGlobalNetworkPolicy = (meta: Meta, spec: GlobalNetworkPolicySpec): CalicoObject =>
  render("GlobalNetworkPolicy", meta, spec);

export const renderGlobalNetworkSet = (meta: Meta, spec: GlobalNetworkSetSpec): CalicoObject =>
  render("GlobalNetworkSet", meta, spec);

/** An empty failsafe list turns Calico's failsafe ports off, which is not the same as leaving it unset. */
export const renderFelixConfiguration = (meta: Meta, spec: FelixConfigurationSpec): CalicoObject =>
  render("FelixConfiguration", meta, spec, ["failsafeInboundHostPorts", "failsafeOutboundHostPorts"]);
