import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "./paths";

/**
 * An example's config under Pulumi mocks (project "project"): the defaults its Pulumi.yaml declares,
 * and one node, which it requires.
 */
export function exampleConfig(example: string): Record<string, string> {
  const { config } = parse(readFileSync(join(REPO_ROOT, "examples", example, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  };
  const values: Record<string, string> = {};
  for (const [key, declared] of Object.entries(config)) {
    if (declared.default === undefined) continue;
    values[`project:${key}`] =
      typeof declared.default === "string" ? declared.default : JSON.stringify(declared.default);
  }
  values["project:nodes"] = JSON.stringify([{ name: "node-1", interfaceName: "eth0", ip: "198.18.0.1" }]);
  return values;
}
