/** `npm run build`'s last step: compiles the filter and the loader the package ships (dist/bpf). */
import { prebuild } from "../provider/bpf/build";

prebuild().catch((error: Error) => {
  console.error(`prebuild: ${error.message}`);
  process.exit(1);
});
