// A minimal Redis client (RESP over a TCP socket), so the team programs need no npm package.
"use strict";
const net = require("net");

function parse(buffer, start) {
  const end = buffer.indexOf("\r\n", start);
  if (end < 0) return null;
  const type = String.fromCharCode(buffer[start]);
  const line = buffer.toString("utf8", start + 1, end);
  if (type === "+") return [line, end + 2];
  if (type === "-") return [new Error(line), end + 2];
  if (type === ":") return [Number(line), end + 2];
  if (type === "$") {
    const length = Number(line);
    if (length < 0) return [null, end + 2];
    if (buffer.length < end + 2 + length + 2) return null;
    return [buffer.toString("utf8", end + 2, end + 2 + length), end + 2 + length + 2];
  }
  if (type === "*") {
    const count = Number(line);
    if (count < 0) return [null, end + 2];
    const items = [];
    let next = end + 2;
    for (let i = 0; i < count; i++) {
      const item = parse(buffer, next);
      if (!item) return null;
      items.push(item[0]);
      next = item[1];
    }
    return [items, next];
  }
  throw new Error(`unexpected reply type ${type}`);
}

function connect(urlText) {
  const url = new URL(urlText);
  const socket = net.createConnection({ host: url.hostname, port: Number(url.port) });
  let buffer = Buffer.alloc(0);
  const waiting = [];
  socket.on("data", (data) => {
    buffer = Buffer.concat([buffer, data]);
    while (waiting.length) {
      const reply = parse(buffer, 0);
      if (!reply) return;
      buffer = buffer.subarray(reply[1]);
      const waiter = waiting.shift();
      if (reply[0] instanceof Error) waiter.reject(reply[0]);
      else waiter.resolve(reply[0]);
    }
  });
  const call = (...args) =>
    new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      let text = `*${args.length}\r\n`;
      for (const arg of args) {
        const value = String(arg);
        text += `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
      }
      socket.write(text);
    });
  const ready = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  }).then(() => call("AUTH", decodeURIComponent(url.password)));
  return { ready, call, close: () => socket.end() };
}

module.exports = { connect };
