// Logs in through the API, authorizes Swagger UI with the token, and calls GET /api/Users/{id}
// from the UI: 200 proves the Authorize button carries the token.
const { chromium } = require('playwright-core');
(async () => {
  const base = process.argv[2] || 'http://127.0.0.1:3979';
  const login = await fetch(`${base}/api/Users/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@example.com', password: 'alicepass' }),
  }).then(r => r.json());
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  await page.goto(`${base}/explorer/`);
  await page.waitForSelector('.opblock');
  await page.click('button.authorize');
  const input = page.locator('.modal-ux input[type=text], .modal-ux input[type=password]').first();
  await input.fill(login.id);
  await page.locator('.modal-ux button.authorize').first().click();
  await page.locator('.modal-ux button.btn-done, .modal-ux .close-modal').first().click();
  const op = page.locator('[id="operations-User-User\\\\.findById"]');
  await op.locator('.opblock-summary').click();
  await op.locator('button.try-out__btn').click();
  await op.locator('tr[data-param-name="id"] input').fill(String(login.userId));
  await op.locator('button.execute').click();
  await op.locator('.live-responses-table tbody .response-col_status').first().waitFor();
  const status = (await op.locator('.live-responses-table tbody .response-col_status').first().innerText()).trim();
  await page.screenshot({ path: process.env.SCREENSHOT || 'explorer.png', fullPage: false });
  console.log(`GET /api/Users/${login.userId} from Swagger UI after Authorize: ${status}`);
  await browser.close();
  process.exit(status.startsWith('200') ? 0 : 1);
})().catch(e => { console.error(e); process.exit(2); });
