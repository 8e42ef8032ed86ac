#!/usr/bin/env node
// Prints the Calico objects an example stack would create, as YAML, by running it under Pulumi's
// mocks (no engine, no cluster). Usage: node scripts/render-example.js <example-name>
const path = require("node:path");
const fs = require("node:fs");
const ts = require("typescript");
const pulumi = require("@pulumi/pulumi");
const { stringify } = require("yaml");

const example = process.argv[2] ?? "redis-host";
const entry = path.resolve(__dirname, "..", "examples", example, "index.ts");
if (!/^[a-z0-9-]+$/.test(example) || !fs.existsSync(entry)) {
  console.error(`no example named ${JSON.stringify(example)} (see examples/)`);
  process.exit(2);
}

require.extensions[".ts"] = (module, filename) => {
  const source = fs.readFileSync(filename, "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
    fileName: filename,
  });
  module._compile(outputText, filename);
};

const objects = [];
pulumi.runtime.setMocks(
  {
    newResource: ({ type, name, inputs }) => {
      if (type.startsWith("kubernetes:")) objects.push({ name, inputs });
      return { id: `${name}-id`, state: inputs };
    },
    call: ({ inputs }) => inputs,
  },
  example,
  "demo",
  true,
);
require(entry);
setTimeout(() => {
  for (const { inputs } of objects) process.stdout.write(`---\n${stringify(inputs)}`);
}, 500);
