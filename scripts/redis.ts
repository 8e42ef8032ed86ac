/**
 * `ip netns exec NS redis-server ...` for a throwaway Redis on a test or demo host: every address, no
 * protected mode (clients come from another namespace), no persistence.
 */
export function redisServerArgv(netns: string, ...extra: string[]): string[] {
  return [
    "netns",
    "exec",
    netns,
    "redis-server",
    "--port",
    "6379",
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--save",
    "",
    "--appendonly",
    "no",
    ...extra,
  ];
}
