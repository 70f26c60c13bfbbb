// Rate-limited routes: traffic under the limit is served, traffic over it gets 429 with
// Retry-After. No bypass token here: this scenario measures the limiter itself.
// load.run runs it as one VU, one iteration, and expects both 200s and 429s.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { url } from './common.js';

const LIMIT = parseInt(__ENV.RATE_LIMIT_PER_MINUTE || '30', 10);
const PARAMS = { headers: { Accept: 'application/json' }, tags: { name: 'GET /api/products (no bypass)' } };
// Over the limit we stop after a few 429s: proving the limit needs no more.
const REJECTIONS_WANTED = 3;
// The limiter allows LIMIT requests in any 60 s; a waiting client never needs longer than that.
const LONGEST_WAIT_S = 61;

export const options = { setupTimeout: '90s' };

// Another client on this address (an earlier run) may have used the budget: wait until the
// app says a request is allowed again, so "under the limit" really is under it.
export function setup() {
  for (let waited = 0; waited <= LONGEST_WAIT_S; ) {
    const probe = http.get(url('/api/products'), PARAMS);
    if (probe.status !== 429) {
      return {};
    }
    const pause = Math.max(1, parseInt(probe.headers['Retry-After'] || '1', 10)) + 1;
    sleep(pause);
    waited += pause;
  }
  return {};
}

export default function () {
  let rejected = 0;
  for (let sent = 0; sent < LIMIT + REJECTIONS_WANTED + 5 && rejected < REJECTIONS_WANTED; sent++) {
    const res = http.get(url('/api/products'), PARAMS);
    if (res.status === 429) {
      rejected++;
      check(res, {
        'over the limit: 429': (r) => r.status === 429,
        'over the limit: Retry-After is set': (r) => parseInt(r.headers['Retry-After'] || '0', 10) > 0,
      });
    } else {
      check(res, { 'under the limit: 200': (r) => r.status === 200 });
    }
  }
}
