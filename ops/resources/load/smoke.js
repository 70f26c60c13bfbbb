// Smoke load: every path of LOAD_PATHS (comma-separated) in turn, each checked to answer 2xx.
// `inv load.run --scenario smoke` sets BASE_URL (the environment's base URL) and the
// thresholds; nothing here names a host. Copy it into infra/tests/load/ to change it.
import http from 'k6/http';
import { check, fail } from 'k6';

const BASE_URL = (__ENV.BASE_URL || fail('BASE_URL is not set: run this through `inv load.run`')).replace(/\/$/, '');
const PATHS = (__ENV.LOAD_PATHS || '/healthz,/readyz')
  .split(',')
  .map((path) => path.trim())
  .filter(Boolean);

export default function () {
  for (const path of PATHS) {
    const res = http.get(`${BASE_URL}${path}`, { tags: { name: `GET ${path}` } });
    check(res, { [`GET ${path} answers 2xx`]: (r) => r.status >= 200 && r.status < 300 });
  }
}
