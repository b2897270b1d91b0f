/**
 * Makes an API key for the Workers build: prints a new `vk_…` key (give it to the caller; it is
 * not stored anywhere) and its `VEIL_API_KEY_HASHES` entry (SHA-256 hex, tenant, role, name).
 * With --key, prints the entry for an existing key (e.g. one issued by `veil keys issue`).
 *   npm run workers:key -- --tenant acme --role user --name chat-app
 */
import { parseArgs } from 'node:util';
import { API_KEY_PREFIX, API_KEY_RE } from '../src/tenants/api-keys.js';
import { apiKeyHash, parseApiKeyHashes } from '../src/tenants/static-keys.js';
import { randomBytes, toBase64Url } from '../src/keys/crypto.js';

const { values: o } = parseArgs({
  options: { tenant: { type: 'string', default: 'default' }, role: { type: 'string', default: 'user' }, name: { type: 'string' }, key: { type: 'string' } },
});
const key = o.key ?? API_KEY_PREFIX + toBase64Url(randomBytes(32));
if (!API_KEY_RE.test(key)) {
  console.error('error: --key must be a vk_… key (vk_ + 43 base64url characters)');
  process.exit(2);
}
const entry = [await apiKeyHash(key), o.tenant, o.role, ...(o.name ? [o.name] : [])].join(':');
try {
  parseApiKeyHashes(entry);
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exit(2);
}
if (!o.key) console.log(`key (give it to the caller; it is shown only now): ${key}`);
console.log(`VEIL_API_KEY_HASHES entry: ${entry}`);
