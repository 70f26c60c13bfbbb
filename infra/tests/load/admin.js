// Admin API: the order list behind the admin token.
import http from 'k6/http';
import { check, fail } from 'k6';
import { apiHeaders, url } from './common.js';

const TOKEN = __ENV.ADMIN_TOKEN || fail('ADMIN_TOKEN is not set');

export default function () {
  const res = http.get(url('/api/admin/orders'), {
    headers: apiHeaders({ Authorization: `Bearer ${TOKEN}` }),
    tags: { name: 'GET /api/admin/orders' },
  });
  check(res, {
    'admin answers 200': (r) => r.status === 200,
    'admin lists orders': (r) => r.status === 200 && Array.isArray(r.json('orders')),
  });
}
