// Opens an EventSource on /api/Products/change-stream in a page of the app's origin, creates a
// product through the API, and expects the page to receive LoopBack's `create` event.
const { chromium } = require('playwright-core');
(async () => {
  const base = process.argv[2] || 'http://127.0.0.1:3979';
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage();
  await page.goto(`${base}/explorer/`);
  // The stream is open when `open` fires; then the product is created from the page itself.
  const event = await page.evaluate(async () => {
    const source = new EventSource('/api/Products/change-stream');
    await new Promise((resolve, reject) => {
      source.onopen = resolve;
      source.onerror = () => reject(new Error('the change stream did not open'));
    });
    const received = new Promise((resolve) => source.addEventListener('data', (e) => resolve(JSON.parse(e.data))));
    await fetch('/api/Products', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Seen by a browser', price: 3 }),
    });
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no event within 5 s')), 5000));
    const e = await Promise.race([received, timeout]);
    source.close();
    return e;
  });
  console.log(`EventSource in Chromium received: ${JSON.stringify(event)}`);
  await browser.close();
  const ok = event.type === 'create' && event.data && event.data.name === 'Seen by a browser' && event.target === event.data.id;
  process.exit(ok ? 0 : 1);
})().catch(e => { console.error(e); process.exit(2); });
