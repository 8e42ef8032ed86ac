import * as pulumi from "@pulumi/pulumi";
import { GlobalNetworkSet, HostEndpoint, UntrackedPolicy } from "pulumi-calico-xdp";

const config = new pulumi.Config();
const denyNets = config.getObject<string[]>("denyNets") ?? ["198.18.100.0/24", "198.18.101.7"];

const denyList = new GlobalNetworkSet("dos-deny-list", {
  nets: denyNets,
  labels: { "dos-deny-list": "true" },
});

const edge = new HostEndpoint("edge-1-eth0", {
  node: "edge-1",
  interfaceName: "eth0",
  labels: { "apply-dos-mitigation": "true" },
});

// Exactly the shape Calico's "defend against DoS attacks" guide uses: a Deny from one source selector
// as the first ingress rule of an untracked policy.
const policy = new UntrackedPolicy("dos-mitigation", {
  hostEndpoints: [edge],
  ingress: [{ action: "Deny", source: { selector: denyList.selector } }],
});

export const xdpEligibility = policy.xdpEligibility;
