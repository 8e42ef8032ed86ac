/**
 * SSH secrets travel apart from the nodes they belong to: `nodes` stays readable in previews and state,
 * `credentials` (node name -> secret fields) is one Pulumi secret. Both functions work on raw,
 * unvalidated input, so validation sees the joined nodes and reports the usual field paths.
 */

export const SECRET_FIELDS = ["privateKey", "privateKeyPassword"] as const;

type Secrets = Partial<Record<(typeof SECRET_FIELDS)[number], unknown>>;
export type NodeCredentials = Secrets & { proxy?: Secrets };
export type Credentials = Record<string, NodeCredentials>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function splitSecrets(endpoint: Record<string, unknown>): [Record<string, unknown>, Secrets | undefined] {
  const rest: Record<string, unknown> = {};
  const secrets: Secrets = {};
  for (const [key, value] of Object.entries(endpoint)) {
    if ((SECRET_FIELDS as readonly string[]).includes(key)) secrets[key as keyof Secrets] = value;
    else rest[key] = value;
  }
  return [rest, Object.keys(secrets).length ? secrets : undefined];
}

/** Nodes without their SSH secrets, and the secrets by node name (undefined when there are none). */
export function separateCredentials(nodes: readonly unknown[]): {
  nodes: unknown[];
  credentials: Credentials | undefined;
} {
  const credentials: Credentials = {};
  const stripped = nodes.map((node) => {
    if (!isObject(node) || !isObject(node.connection)) return node;
    const [connection, secrets] = splitSecrets(node.connection);
    const found: NodeCredentials = { ...secrets };
    if (isObject(connection.proxy)) {
      const [proxy, proxySecrets] = splitSecrets(connection.proxy);
      connection.proxy = proxy;
      if (proxySecrets) found.proxy = proxySecrets;
    }
    if (Object.keys(found).length) credentials[String(node.name)] = found;
    return { ...node, connection };
  });
  return { nodes: stripped, credentials: Object.keys(credentials).length ? credentials : undefined };
}

/** The inverse of `separateCredentials`. */
export function joinCredentials(nodes: unknown, credentials: unknown): unknown {
  if (!Array.isArray(nodes) || !isObject(credentials)) return nodes;
  return nodes.map((node) => {
    if (!isObject(node) || !isObject(node.connection)) return node;
    const found = credentials[String(node.name)];
    if (!isObject(found)) return node;
    const { proxy: proxySecrets, ...secrets } = found;
    const connection: Record<string, unknown> = { ...node.connection, ...secrets };
    if (isObject(proxySecrets) && isObject(connection.proxy))
      connection.proxy = { ...connection.proxy, ...proxySecrets };
    return { ...node, connection };
  });
}
