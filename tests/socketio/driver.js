// Drives one socket.io-client socket for the Rust integration tests (tests/integration/socketio.rs
// and shutdown.rs).
//
// Reads commands from stdin, one JSON object a line, and writes what happens to stdout, one JSON
// object a line:
//   {"op":"connect","url":U,"auth":{...},"transports":[...]?}  -> {"event":"$connect","transport":T}
//                                                                 or {"event":"$connect_error","message":M,"data":D?}
//   {"op":"emit","name":N,"data":{...},"ack":ID?,"binary":true?} -> with ack: {"ack":ID,"data":...}
//   {"op":"drop"}       drops the connection the way a network would (no DISCONNECT packet), and
//                       keeps it down until "reconnect"         -> {"event":"$disconnect","reason":R}
//   {"op":"reconnect"}  reconnects the same socket              -> {"event":"$connect",...}
//   {"op":"exit"}
// A disconnect the client did not ask for is written the same way, with the close code when a
// WebSocket closed: {"event":"$disconnect","reason":R,"code":C}.
// Every event the server emits is written as {"event":NAME,"data":OBJECT}; the engine's upgrade to
// websocket as {"event":"$upgrade","transport":T}, and each Engine.IO connection opening as
// {"event":"$open","transport":T}. Errors go to stderr with a non-zero exit.
"use strict";

const { io } = require("socket.io-client");
const readline = require("node:readline");

let socket = null;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const fail = (msg) => {
  process.stderr.write(`driver: ${msg}\n`);
  process.exit(2);
};

function connect(cmd) {
  if (socket) fail("already connected");
  socket = io(cmd.url, {
    auth: cmd.auth || {},
    transports: cmd.transports || ["polling", "websocket"],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    timeout: 5000,
  });
  socket.io.on("open", () => {
    out({ event: "$open", transport: socket.io.engine.transport.name });
    socket.io.engine.on("upgrade", (t) => out({ event: "$upgrade", transport: t.name }));
  });
  socket.on("connect", () => out({ event: "$connect", transport: socket.io.engine.transport.name }));
  socket.on("connect_error", (err) => out({ event: "$connect_error", message: err.message, data: err.data }));
  socket.on("disconnect", (reason, details) =>
    out({ event: "$disconnect", reason, code: details?.context?.code }),
  );
  socket.onAny((name, data) => out({ event: name, data }));
}

function emit(cmd) {
  if (!socket) fail("emit before connect");
  const data = cmd.data === undefined ? {} : cmd.data;
  if (cmd.binary) data.blob = Buffer.from("not a v1 field");
  if (cmd.ack === undefined || cmd.ack === null) {
    socket.emit(cmd.name, data);
  } else {
    socket.timeout(10000).emit(cmd.name, data, (err, res) => {
      out(err ? { ack: cmd.ack, timeout: err.message } : { ack: cmd.ack, data: res });
    });
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    fail(`bad command ${line}: ${e.message}`);
  }
  switch (cmd.op) {
    case "connect":
      return connect(cmd);
    case "emit":
      return emit(cmd);
    case "drop":
      socket.io.reconnection(false);
      return socket.io.engine.close();
    case "reconnect":
      socket.io.reconnection(true);
      return socket.connect();
    case "exit":
      if (socket) socket.close();
      return process.exit(0);
    default:
      fail(`unknown op ${cmd.op}`);
  }
});
rl.on("close", () => process.exit(0));
