// Preloaded into Artillery (NODE_OPTIONS=--require). Even with ARTILLERY_DISABLE_TELEMETRY set,
// Artillery posts an anonymised event to PostHog at exit, retrying for ~10 s when offline.
// A load run must send traffic only to its target, so the PostHog client becomes a no-op.
"use strict";
const Module = require("module");
const originalLoad = Module._load;

class SilentPostHog {
  capture() {}
  async shutdownAsync() {}
  async shutdown() {}
}

Module._load = function load(request, parent, isMain) {
  if (request === "posthog-node") {
    return { PostHog: SilentPostHog };
  }
  return originalLoad.call(this, request, parent, isMain);
};
