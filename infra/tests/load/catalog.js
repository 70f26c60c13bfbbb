// Catalog browsing: the product list, as a storefront's home page loads it.
import http from 'k6/http';
import { check } from 'k6';
import { apiHeaders, url } from './common.js';

export default function () {
  const res = http.get(url('/api/products'), { headers: apiHeaders(), tags: { name: 'GET /api/products' } });
  check(res, {
    'catalog answers 200': (r) => r.status === 200,
    'catalog lists products': (r) => r.status === 200 && r.json('count') > 0,
  });
}
