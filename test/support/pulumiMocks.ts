import * as pulumi from "@pulumi/pulumi";

export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly provider?: string;
}

/** Installs Pulumi's mocks and returns the list every registered resource is appended to. */
export function installMocks(config: Record<string, string> = {}): Registered[] {
  const registered: Registered[] = [];
  pulumi.runtime.setAllConfig(config);
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "project",
    "stack",
    false,
  );
  return registered;
}

export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Lets pending registrations (which run in apply callbacks) reach the mock monitor. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

export function customResources(registered: readonly Registered[]): Registered[] {
  return registered.filter((r) => r.type.startsWith("kubernetes:") && /projectcalico\.org/.test(r.type));
}

/** The Output's value; its internal sibling promises are settled too, so a rejection is not left unhandled. */
export async function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  const internals = output as unknown as {
    promise(): Promise<T>;
    isKnown: Promise<boolean>;
    isSecret: Promise<boolean>;
  };
  await Promise.allSettled([internals.isKnown, internals.isSecret]);
  return internals.promise();
}
