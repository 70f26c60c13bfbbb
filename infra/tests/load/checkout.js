// Checkout: a signed-in user buys one or two products (RLS applies in the app).
import http from 'k6/http';
import { check } from 'k6';
import { USER_IDS, apiHeaders, loadCatalog, pick, url } from './common.js';

export function setup() {
  // Products with plenty of stock, so a bounded run does not sell out and measure 409s.
  const ids = loadCatalog()
    .filter((product) => product.stock >= 100)
    .map((product) => product.id);
  return { ids: ids.length ? ids : loadCatalog().map((product) => product.id) };
}

export default function (data) {
  const first = pick(data.ids);
  const second = pick(data.ids);
  const items = [{ product_id: first, quantity: 1 }];
  if (second !== first) {
    items.push({ product_id: second, quantity: 1 });
  }
  const res = http.post(url('/api/checkout'), JSON.stringify({ items }), {
    headers: apiHeaders({ 'Content-Type': 'application/json', 'X-User-Id': pick(USER_IDS) }),
    tags: { name: 'POST /api/checkout' },
  });
  check(res, {
    'checkout answers 201': (r) => r.status === 201,
    'checkout returns an order': (r) => r.status === 201 && typeof r.json('order_id') === 'string',
  });
}
