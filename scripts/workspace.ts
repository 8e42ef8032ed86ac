import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { type LocalWorkspaceOptions, PulumiCommand } from "@pulumi/pulumi/automation";
import { packageRoot } from "../provider/bpf/build";

const ROOT = packageRoot();

/**
 * Automation API options for running a project (examples/redis-host by default) with the engine from
 * scripts/engine.sh: that engine first on PATH, a private PULUMI_HOME, passphrase secrets and a file
 * backend under `dir`. The program directory links this repository's node_modules, since the dynamic
 * provider plugin resolves @pulumi/pulumi and pulumi-calico-xdp from there.
 */
export async function engineWorkspace(
  engineBin: string,
  dir: string,
  passphrase: string,
  project = "redis-host",
): Promise<LocalWorkspaceOptions> {
  const work = join(dir, "work");
  mkdirSync(join(dir, "state"), { recursive: true });
  mkdirSync(work, { recursive: true });
  if (!existsSync(join(work, "node_modules")))
    symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
  return {
    workDir: work,
    pulumiCommand: await PulumiCommand.get({ root: dirname(engineBin), skipVersionCheck: true }),
    envVars: {
      PATH: `${engineBin}:${process.env.PATH}`,
      PULUMI_HOME: join(dir, "pulumi-home"),
      PULUMI_CONFIG_PASSPHRASE: passphrase,
      PULUMI_SKIP_UPDATE_CHECK: "true",
    },
    projectSettings: {
      name: project,
      runtime: "nodejs",
      backend: { url: `file://${join(dir, "state")}` },
    },
  };
}
