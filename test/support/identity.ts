import { randomBytes } from "node:crypto";

/** A resource identity as XdpProgram derives it from a URN (16 hex digits), unique per test resource. */
export const testIdentity = () => randomBytes(8).toString("hex");
