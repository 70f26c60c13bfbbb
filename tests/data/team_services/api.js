// The API: POST /api/jobs pushes the request body onto the Redis list "jobs".
"use strict";
const http = require("http");
const { connect } = require("./resp");

const redis = connect(process.env.REDIS_URL);
redis.ready.catch((error) => {
  console.error(`redis: ${error.message}`);
  process.exit(1);
});

http
  .createServer(async (request, response) => {
    if (request.url === "/healthz") {
      await redis.ready;
      response.writeHead(200).end("ok");
      return;
    }
    if (request.method === "POST" && request.url === "/api/jobs") {
      let body = "";
      for await (const chunk of request) body += chunk;
      await redis.call("RPUSH", "jobs", body);
      console.log(`queued ${body} request_id=${request.headers["x-request-id"]}`);
      response.writeHead(202, { "content-type": "application/json" });
      response.end(JSON.stringify({ queued: body, web: process.env.WEB_URL || null }));
      return;
    }
    response.writeHead(404).end();
  })
  .listen(Number(process.env.PORT), "127.0.0.1", () => console.log(`api on ${process.env.PORT}`));
