// Real traffic for the kernel tests, run inside a network namespace with `ip netns exec NS node traffic.js ...`.
//   tcp-server PORT            accept connections, answer "pong\n" to each line
//   tcp-connect HOST PORT FROM  connect from address FROM; prints "connected" or "refused"/"timeout"
//   udp-count PORT SECONDS      count datagrams for SECONDS, print the number
//   udp-flood HOST PORT FROM SECONDS  send datagrams as fast as possible for SECONDS, print how many
const net = require("node:net");
const dgram = require("node:dgram");
const [mode, ...args] = process.argv.slice(2);

if (mode === "tcp-server") {
  net
    .createServer((socket) => socket.on("data", () => socket.write("pong\n")))
    .listen(Number(args[0]), "0.0.0.0", () => console.log("listening"));
} else if (mode === "tcp-connect") {
  const [host, port, from] = args;
  const socket = net.connect({ host, port: Number(port), localAddress: from, timeout: 1500 });
  socket.on("connect", () => socket.write("ping\n"));
  socket.on("data", () => {
    console.log("connected");
    process.exit(0);
  });
  socket.on("timeout", () => {
    console.log("timeout");
    process.exit(0);
  });
  socket.on("error", (e) => {
    console.log(`error ${e.code}`);
    process.exit(0);
  });
} else if (mode === "udp-count") {
  const socket = dgram.createSocket("udp4");
  let count = 0;
  socket.on("message", () => count++);
  socket.bind(Number(args[0]), "0.0.0.0", () => console.log("listening"));
  const report = () => {
    console.log(String(count));
    process.exit(0);
  };
  process.on("SIGTERM", report);
  setTimeout(report, Number(args[1]) * 1000);
} else if (mode === "udp-flood") {
  const [host, port, from, seconds] = args;
  const socket = dgram.createSocket("udp4");
  const payload = Buffer.alloc(32, 1);
  let sent = 0;
  let end = Date.now() + Number(seconds) * 1000;
  process.on("SIGTERM", () => {
    end = 0;
  });
  socket.bind(0, from, () => {
    console.log("sending");
    const burst = () => {
      for (let i = 0; i < 64; i++) socket.send(payload, Number(port), host, () => sent++);
      if (Date.now() < end) setImmediate(burst);
      else
        setTimeout(() => {
          console.log(String(sent));
          process.exit(0);
        }, 200);
    };
    burst();
  });
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
