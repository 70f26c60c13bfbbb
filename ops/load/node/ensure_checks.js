// Judges a script's own Artillery `ensure` checks (config.ensure / config.plugins.ensure) on a
// finished run's report, with the ensure plugin's own code: the same metrics, the same filtrex
// expressions, the same verdicts Artillery would give. load.run disables the plugin during the run
// (ARTILLERY_DISABLE_ENSURE), because the plugin reads config.ensure *or* config.plugins.ensure, so
// one set of checks would silently replace the other; here every check is judged and reported.
// argv: <artillery binary> <checks.json> <report.json>; prints [{check, passed, strict}].
"use strict";
const fs = require("fs");
const path = require("path");

const [artilleryBin, checksFile, reportFile] = process.argv.slice(2);
const pluginPath = require.resolve("artillery-plugin-ensure", {
  paths: [path.dirname(fs.realpathSync(artilleryBin))],
});
global.artillery = { log: (...parts) => console.error(...parts) };
const { Plugin } = require(pluginPath);
const checks = JSON.parse(fs.readFileSync(checksFile, "utf8"));
const report = JSON.parse(fs.readFileSync(reportFile, "utf8")).aggregate || {};
const results = [];
for (const set of checks) {
  const vars = Plugin.statsToVars({ report });
  for (const check of Plugin.runChecks(set, vars)) {
    results.push({ check: check.original, passed: check.result === 1, strict: check.strict });
  }
}
process.stdout.write(JSON.stringify(results));
