/** Name and label rules shared by every Calico resource (Kubernetes object-name and label syntax). */

const DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
export const DNS1123_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
export const POLICY_NAME = new RegExp(`^(${DNS_LABEL}\\.)?${DNS_LABEL}$`);
/** Calico's networkPolicyNameRegex: a label, two, or a Kubernetes policy's `knp.default.` name. */
export const NETWORK_POLICY_NAME = new RegExp(
  `^((${DNS_LABEL})(\\.${DNS_LABEL})?|((knp|ossg)\\.default\\.${DNS_LABEL}(\\.${DNS_LABEL})*))$`,
);
export const NAMESPACE_NAME = new RegExp(`^${DNS_LABEL}$`);
export const INTERFACE_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9]|-(?!-))*$/;

export const MAX_NAME_LENGTH = 253;

/** Why `name` is not a lowercase DNS-1123 subdomain, or undefined when it is. */
export function resourceNameProblem(name: string, pattern: RegExp = DNS1123_SUBDOMAIN): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_NAME_LENGTH)
    return `is ${name.length} characters long: at most ${MAX_NAME_LENGTH} are allowed`;
  if (pattern.test(name)) return undefined;
  const suggestion = toDnsName(name);
  const hint = suggestion && pattern.test(suggestion) ? `: did you mean ${JSON.stringify(suggestion)}?` : "";
  const rule =
    pattern === POLICY_NAME
      ? "must be lowercase letters, digits and '-', with at most one '.'"
      : "must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
  return `${rule}${hint}`;
}

/** Lowercases and replaces invalid characters so a Pulumi resource name becomes a valid Calico name. */
export function toDnsName(name: string, maxLength = MAX_NAME_LENGTH): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/-*\.-*/g, ".")
    .slice(0, maxLength)
    .replace(/^[-.]+|[-.]+$/g, "");
}

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > MAX_NAME_LENGTH || !DNS1123_SUBDOMAIN.test(prefix))) {
    return `prefix ${JSON.stringify(prefix)} must be a lowercase DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63) return "name part must be 1 to 63 characters";
  if (!LABEL_NAME.test(name)) {
    return "name part must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit";
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return `is ${value.length} characters long: at most 63 are allowed`;
  if (value.length > 0 && !LABEL_NAME.test(value)) {
    return "must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Kubernetes port names (IANA_SVC_NAME): at most 15 characters, `[a-z0-9-]`, a letter, no edge or double '-'. */
export function portNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return "a port name must be 1 to 15 characters";
  if (!PORT_NAME.test(name) || name.endsWith("-")) {
    return "a port name must be lowercase letters, digits and single '-' inside";
  }
  if (!/[a-z]/.test(name)) return "a port name must contain at least one letter";
  return undefined;
}
