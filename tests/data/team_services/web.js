// The web front: serves /.
"use strict";
const http = require("http");

http
  .createServer((request, response) => {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(`web ${request.url} api=${process.env.API_URL}\n`);
  })
  .listen(Number(process.env.PORT), "127.0.0.1", () => console.log(`web on ${process.env.PORT}`));
