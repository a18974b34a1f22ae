// A firmware update from the web UI, in a real browser (Debian's chromium, playwright-core).
//
//   BASE_URL=http://127.0.0.1:PORT PASSWORD=… STEP=upload BUNDLE=file.raucb node tests/ota.mjs
//   BASE_URL=http://127.0.0.1:PORT PASSWORD=… STEP=after VERSION=0.2.0 node tests/ota.mjs
//
// `upload`: signs in, opens the Device page, sees the firmware and both slots, uploads the
// bundle with the file picker, sees the job wait for the show to end (the test keeps a
// recording running), and presses "Reboot into it now". `after` (the box rebooted into the
// new slot): sees the update succeed after its health check, the new version and the new
// slot booted and good. Exits non-zero on the first failed check, saying which.
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const step = process.env.STEP;
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base || !process.env.PASSWORD || !['upload', 'after'].includes(step)) {
  console.error('set BASE_URL, PASSWORD and STEP (upload or after)');
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

const info = (page) => page.textContent('#ota-info');

const browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/#device`);
  await page.waitForSelector('#access:not([hidden])');
  await page.fill('#password', process.env.PASSWORD);
  await page.click('#access-form button');
  await page.waitForSelector('#device:not([hidden])');
  await page.waitForFunction(() => document.getElementById('ota-info').textContent.includes('Firmware'));
  if (step === 'upload') {
    check((await info(page)).includes('0.1.0'), 'the Device page shows the running firmware');
    const slots = await page.textContent('#ota-slots');
    check(slots.includes('rootfs.0') && slots.includes('rootfs.1') && slots.includes('booted'), 'both slots are listed, one booted');
    check(await page.isVisible('#ota-upload'), 'an upload is offered');
    await page.setInputFiles('#ota-file', process.env.BUNDLE);
    await page.waitForFunction(() => document.getElementById('ota-msg').textContent.startsWith('Uploaded'), null, { timeout: 30000 });
    check(true, 'the upload was taken');
    await page.waitForFunction(() => document.getElementById('ota-info').textContent.includes('waiting to reboot'), null, { timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('ota-info').textContent.includes('Waiting'), null, { timeout: 10000 });
    const waiting = await info(page);
    check(waiting.includes('recording'), `the reboot waits and says why: ${waiting}`);
    check(await page.isVisible('#ota-postpone') && await page.isVisible('#ota-force'), 'postpone and force are offered');
    check(errors.length === 0, `no page errors before the reboot (${errors.join('; ')})`);
    page.on('dialog', (d) => d.accept());
    await page.click('#ota-force');
    await page.waitForFunction(() => document.getElementById('device-msg').textContent.includes('Rebooting'), null, { timeout: 10000 });
    check(true, 'forcing the reboot says the box is rebooting');
    // The box goes away now: what the page tries meanwhile must not throw.
    await page.waitForTimeout(3000);
  } else {
    await page.waitForFunction(() => document.getElementById('ota-info').textContent.includes('succeeded'), null, { timeout: 60000 });
    const text = await info(page);
    check(text.includes(process.env.VERSION), `the new firmware runs: ${text}`);
    const row = await page.$eval('#ota-slots', (t) => [...t.querySelectorAll('tr')].map((r) => r.textContent).find((r) => r.includes('rootfs.1')) || '');
    check(row.includes('booted') && row.includes('good'), `the new slot is booted and good: ${row}`);
  }
  check(errors.length === 0, `no page errors (${errors.join('; ')})`);
} finally {
  await browser.close();
}
