// The worker: pops each job from Redis and writes a row into Postgres (psql, no npm package).
"use strict";
const { execFileSync } = require("child_process");
const { connect } = require("./resp");

const db = new URL(process.env.DATABASE_URL);
// The password goes through the environment: a command line is visible to every user.
const env = {
  ...process.env,
  PGHOST: db.hostname,
  PGPORT: db.port,
  PGUSER: decodeURIComponent(db.username),
  PGPASSWORD: decodeURIComponent(db.password),
  PGDATABASE: db.pathname.slice(1),
};

async function main() {
  const redis = connect(process.env.REDIS_URL);
  await redis.ready;
  console.log("worker waiting for jobs");
  for (;;) {
    const item = await redis.call("BLPOP", "jobs", "1");
    if (!item) continue;
    execFileSync(process.env.PSQL || "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", `payload=${item[1]}`], {
      env,
      input: "insert into public.jobs_done (payload) values (:'payload');\n",
    });
    console.log(`stored ${item[1]}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
