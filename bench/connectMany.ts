/**
 * Opens `count` Redis connections, `concurrency` at a time, each sending one PING and closing after
 * the PONG (a new connection per request); prints {"ok": n, "failed": n}. Run inside the client's
 * network namespace: node connectMany.js HOST PORT COUNT CONCURRENCY TIMEOUT_MS
 */
import { connect } from "node:net";

function ping(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      if (ok) socket.end();
      else socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      if (chunk.toString().startsWith("+PONG")) done(true);
    });
    socket.once("error", () => done(false));
  });
}

async function main(): Promise<void> {
  const [host, port, count, concurrency, timeoutMs] = process.argv.slice(2);
  let next = 0;
  let ok = 0;
  const total = Number(count);
  await Promise.all(
    Array.from({ length: Number(concurrency) }, async () => {
      while (next < total) {
        next++;
        if (await ping(host!, Number(port), Number(timeoutMs))) ok++;
      }
    }),
  );
  console.log(JSON.stringify({ ok, failed: total - ok }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
