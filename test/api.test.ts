import { describe, expect, it } from "vitest";
import * as api from "../sdk/index";

describe("the package's public API", () => {
  it("GIVEN the package's exports THEN no validation schema, renderer or internal helper is among them", () => {
    const names = Object.keys(api);
    expect(names).toEqual(
      expect.arrayContaining([
        "HostEndpoint",
        "UntrackedPolicy",
        "GlobalNetworkSet",
        "FelixConfiguration",
        "XdpProgram",
      ]),
    );
    expect(
      names.filter((n) => /Schema$|^render|^isPlainObject$|^splitNodeSecrets$|^compact$/.test(n)),
    ).toEqual([]);
  });
});
