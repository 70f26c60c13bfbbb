// Product detail: one random product page after another.
import http from 'k6/http';
import { check } from 'k6';
import { apiHeaders, loadCatalog, pick, url } from './common.js';

export function setup() {
  return { ids: loadCatalog().map((product) => product.id) };
}

export default function (data) {
  const id = pick(data.ids);
  const res = http.get(url(`/api/products/${id}`), { headers: apiHeaders(), tags: { name: 'GET /api/products/{id}' } });
  check(res, {
    'product answers 200': (r) => r.status === 200,
    'product is the one asked for': (r) => r.status === 200 && r.json('id') === id,
  });
}
