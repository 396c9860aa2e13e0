#!/usr/bin/env node
// A dependency-free Parley (TalkJS) webhook receiver for Node 18+; see docs/webhooks.md.
//
//   PORT=3000 SECRET=sk_live_... OUT=events.txt node examples/webhook-receiver.js
//
// Listens on 127.0.0.1:PORT (0 picks a free port) and prints "listening <port>". For every POST
// it verifies X-TalkJS-Signature over the raw body; a good one appends "ok <eventId> <type>" to
// OUT and answers 200, a bad one appends "bad" and answers 401. A real receiver would also
// de-duplicate by event id (deliveries are at least once) before acting on an event.
"use strict";

const http = require("node:http");
const fs = require("node:fs");
const { createHmac, timingSafeEqual } = require("node:crypto");

// rawBody: the Buffer of the request body as received; timestamp, signature: the header values.
function verify(secret, timestamp, rawBody, signature) {
  if (!timestamp || !signature) return false;
  const expected = createHmac("sha256", secret)
    .update(timestamp + ".").update(rawBody).digest("hex").toUpperCase();
  const a = Buffer.from(expected), b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

const secret = process.env.SECRET || "";
const out = process.env.OUT;
if (!secret || !out) {
  console.error("set SECRET (the app's secret key) and OUT (a file to append to)");
  process.exit(2);
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405, { Allow: "POST" }).end();
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const rawBody = Buffer.concat(chunks);
    const ok = verify(
      secret,
      req.headers["x-talkjs-timestamp"],
      rawBody,
      req.headers["x-talkjs-signature"],
    );
    let event = null;
    if (ok) {
      try {
        event = JSON.parse(rawBody.toString("utf8"));
      } catch {
        event = null;
      }
    }
    if (!ok || event === null || typeof event !== "object") {
      fs.appendFileSync(out, "bad\n");
      res.writeHead(ok ? 400 : 401, { "Content-Type": "application/json" }).end("{}");
      return;
    }
    fs.appendFileSync(out, `ok ${event.id} ${event.type}\n`);
    res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
  });
});

server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
