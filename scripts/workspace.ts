import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type ConfigMap,
  type LocalWorkspaceOptions,
  type ProjectSettings,
  PulumiCommand,
  type Stack,
} from "@pulumi/pulumi/automation";
import { parse } from "yaml";
import { packageRoot } from "../provider/bpf/build";

const ROOT = packageRoot();

/**
 * The environment for running the engine from scripts/engine.sh: that engine first on PATH, a private
 * PULUMI_HOME, passphrase secrets and a file backend in `dir`/state.
 */
export function engineEnv(engineBin: string, dir: string, passphrase: string): Record<string, string> {
  mkdirSync(join(dir, "state"), { recursive: true });
  return {
    PATH: `${engineBin}:${process.env.PATH}`,
    PULUMI_HOME: join(dir, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
  };
}

/**
 * Sets each key whole, as `pulumi config set --path` does: arrays and objects as such, which typed
 * project config requires (a JSON string is not an `array<string>`).
 */
export async function setStackConfig(stack: Stack, values: Record<string, unknown>): Promise<void> {
  const flat: ConfigMap = {};
  const walk = (key: string, value: unknown): void => {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) walk(`${key}[${i}]`, v);
    else if (value !== null && typeof value === "object")
      for (const [k, v] of Object.entries(value)) walk(`${key}.${k}`, v);
    else flat[key] = { value: String(value) };
  };
  for (const [key, value] of Object.entries(values)) walk(key, value);
  await stack.removeAllConfig(Object.keys(values));
  await stack.setAllConfig(flat, true);
}

/** An example's Pulumi.yaml (its config declarations and defaults among them), or a bare project. */
function projectSettings(project: string, backend: string): ProjectSettings {
  const file = join(ROOT, "examples", project, "Pulumi.yaml");
  const declared = existsSync(file) ? (parse(readFileSync(file, "utf8")) as ProjectSettings) : undefined;
  return { ...(declared ?? { name: project, runtime: "nodejs" }), backend: { url: backend } };
}

/**
 * Automation API options for running a project inline (examples/redis-host's by default) with the
 * engine from scripts/engine.sh. The program directory links this repository's node_modules, since the
 * dynamic provider plugin resolves @pulumi/pulumi and pulumi-calico-xdp from there.
 */
export async function engineWorkspace(
  engineBin: string,
  dir: string,
  passphrase: string,
  project = "redis-host",
): Promise<LocalWorkspaceOptions> {
  const work = join(dir, "work");
  const envVars = engineEnv(engineBin, dir, passphrase);
  mkdirSync(work, { recursive: true });
  if (!existsSync(join(work, "node_modules")))
    symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
  return {
    workDir: work,
    pulumiCommand: await PulumiCommand.get({ root: dirname(engineBin), skipVersionCheck: true }),
    envVars,
    projectSettings: projectSettings(project, envVars.PULUMI_BACKEND_URL!),
  };
}
