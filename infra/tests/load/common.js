// Shared by the k6 scenarios. Everything about the target comes from the environment
// (load.run sets it from [tool.ops] config): nothing here names a host.
import http from 'k6/http';
import { fail } from 'k6';

export const BASE_URL = (__ENV.BASE_URL || fail('BASE_URL is not set: run this through `inv load.run`')).replace(/\/$/, '');

// The seed's users (supabase/seed.sql): checkouts act as them, as PostgREST would.
export const USER_IDS = (__ENV.LOAD_USER_IDS || '00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002')
  .split(',')
  .map((id) => id.trim())
  .filter(Boolean);

export function url(path) {
  return `${BASE_URL}${path}`;
}

// Scenarios other than ratelimit measure the app, not its limiter: they present the bypass token.
export function apiHeaders(extra = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, extra);
  if (__ENV.RATE_LIMIT_BYPASS_TOKEN) {
    headers['X-RateLimit-Bypass'] = __ENV.RATE_LIMIT_BYPASS_TOKEN;
  }
  return headers;
}

export function pick(items) {
  return items[Math.floor(Math.random() * items.length)];
}

// The catalog, read once in setup(): products that exist and still have stock.
export function loadCatalog() {
  const res = http.get(url('/api/products'), { headers: apiHeaders(), tags: { name: 'setup catalog' } });
  if (res.status !== 200) {
    fail(`GET /api/products answered ${res.status}: is BASE_URL the app?`);
  }
  const products = res.json('products') || [];
  if (products.length === 0) {
    fail('the catalog is empty: seed the database first');
  }
  return products;
}
