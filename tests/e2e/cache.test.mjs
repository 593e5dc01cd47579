// The package's Cache API reader (js/src/files.js fetchCached), which the page's worker and
// TextClassifier.load read model files through: a file is downloaded once and then read from the cache while
// a HEAD request checks its version (size + Last-Modified); a new version is downloaded again and replaces the
// old one; without an answer to the HEAD request (offline) the cached copy is used.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch, hashedName } from './helpers.mjs';

describe('fetchCached (Cache API, versioned by size and modification time)', () => {
  let srv, browser, page;
  const path = '/models/sentiment-ln/config.json';
  before(async () => {
    srv = await serve();
    browser = await launch({ webgpu: false });
    page = await browser.newPage();
    await page.goto(`${srv.url}models.json`);
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  /** fetchCached in the page: the text it returns and whether progress said it came from the cache. */
  const read = () =>
    page.evaluate(async ([lens, url]) => {
      const { fetchCached, CACHE_NAME } = await import(lens);
      let cached = null;
      const bytes = await fetchCached(url, (loaded, total, c) => (cached = c));
      const keys = (await (await caches.open(CACHE_NAME)).keys()).filter((r) => r.url.split('?')[0] === url);
      return { text: new TextDecoder().decode(bytes), cached, entries: keys.length };
    }, [`/${hashedName('lens/files.js')}`, new URL(path, srv.url).href]);
  const gets = () => srv.requests.get(path) || 0;

  it('downloads once, then reads the cached copy', async () => {
    const first = await read();
    assert.equal(first.cached, false);
    assert.match(first.text, /"labels"|hidden_size/);
    const n = gets();
    const again = await read();
    assert.deepEqual(again, { ...first, cached: true });
    assert.equal(gets(), n, 'no second download');
  });

  it('uses the cached copy when the HEAD request fails (offline)', async () => {
    const want = (await read()).text;
    const n = gets();
    await page.route(`**${path}`, (route) => (route.request().method() === 'HEAD' ? route.abort() : route.continue()));
    try {
      assert.deepEqual(await read(), { text: want, cached: true, entries: 1 });
    } finally {
      await page.unroute(`**${path}`);
    }
    assert.equal(gets(), n);
  });

  it('downloads a new version (other size or Last-Modified) and keeps only it', async () => {
    const body = '{"changed": true}';
    const headers = { 'content-type': 'application/json', 'content-length': String(body.length), 'last-modified': new Date(Date.UTC(2030, 0, 1)).toUTCString() };
    await page.route(`**${path}`, (route) => route.fulfill({ status: 200, headers, body: route.request().method() === 'HEAD' ? '' : body }));
    try {
      assert.deepEqual(await read(), { text: body, cached: false, entries: 1 });
      assert.deepEqual(await read(), { text: body, cached: true, entries: 1 });
    } finally {
      await page.unroute(`**${path}`);
    }
    // The server's own version again: downloaded, replacing the changed one.
    const back = await read();
    assert.equal(back.cached, false);
    assert.notEqual(back.text, body);
    assert.equal(back.entries, 1);
  });
});
