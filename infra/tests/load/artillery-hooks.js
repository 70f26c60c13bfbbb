// Processor functions for the Artillery scenarios (config.processor). The target comes from
// BASE_URL, the tokens from the environment, exactly as for the k6 scripts.
'use strict';

const BASE_URL = (process.env.BASE_URL || '').replace(/\/$/, '');
const USER_IDS = (process.env.LOAD_USER_IDS || '00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002')
  .split(',')
  .map((id) => id.trim())
  .filter(Boolean);
const LIMIT = parseInt(process.env.RATE_LIMIT_PER_MINUTE || '30', 10);
const REJECTIONS_WANTED = 3;
const LONGEST_WAIT_S = 61;

function pick(items) {
  return items[Math.floor(Math.random() * items.length)];
}

// Keeps the products from the `before` flow's catalog request (shared by all virtual users).
function rememberCatalog(requestParams, response, context, events, next) {
  try {
    const products = JSON.parse(response.body).products || [];
    const stocked = products.filter((product) => product.stock >= 100);
    context.vars.productIds = (stocked.length ? stocked : products).map((product) => product.id);
  } catch (err) {
    return next(new Error(`GET /api/products did not return the catalog: ${err.message}`));
  }
  if (!context.vars.productIds.length) {
    return next(new Error('the catalog is empty: seed the database first'));
  }
  return next();
}

function pickProduct(context, events, done) {
  context.vars.productId = pick(context.vars.productIds);
  return done();
}

// One or two products for a signed-in user, as in checkout.js.
function checkoutRequest(requestParams, context, events, next) {
  const first = pick(context.vars.productIds);
  const second = pick(context.vars.productIds);
  const items = [{ product_id: first, quantity: 1 }];
  if (second !== first) {
    items.push({ product_id: second, quantity: 1 });
  }
  requestParams.json = { items };
  requestParams.headers = Object.assign({}, requestParams.headers, { 'X-User-Id': pick(USER_IDS) });
  return next();
}

// An earlier client on this address may have used the budget: wait until a request is
// allowed again, so that "under the limit" really is under it (see ratelimit.js).
async function waitForRateLimitBudget() {
  // Artillery awaits an async function step (no callback).
  for (let waited = 0; waited <= LONGEST_WAIT_S; ) {
    const probe = await fetch(`${BASE_URL}/api/products`, { headers: { Accept: 'application/json' } });
    await probe.arrayBuffer();
    if (probe.status !== 429) {
      return;
    }
    const pause = Math.max(1, parseInt(probe.headers.get('retry-after') || '1', 10)) + 1;
    await new Promise((resolve) => setTimeout(resolve, pause * 1000));
    waited += pause;
  }
}

function countRejection(requestParams, response, context, events, next) {
  context.vars.sent = (context.vars.sent || 0) + 1;
  if (response.statusCode === 429) {
    context.vars.rejected = (context.vars.rejected || 0) + 1;
    if (!(parseInt(response.headers['retry-after'] || '0', 10) > 0)) {
      events.emit('counter', 'ratelimit.429_without_retry_after', 1);
    }
  }
  return next();
}

// Keep asking until the limiter has said no a few times (bounded).
function untilRejected(context, next) {
  const sent = context.vars.sent || 0;
  const rejected = context.vars.rejected || 0;
  return next(rejected < REJECTIONS_WANTED && sent < LIMIT + REJECTIONS_WANTED + 5);
}

module.exports = {
  checkoutRequest,
  countRejection,
  pickProduct,
  rememberCatalog,
  untilRejected,
  waitForRateLimitBudget,
};
