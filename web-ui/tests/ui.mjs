// The web UI in a real browser: Debian's chromium, driven by playwright-core.
//
//   BASE_URL=http://127.0.0.1:PORT RTMP_URL=rtmp://127.0.0.1:PORT/live ARTEFACTS=dir node tests/ui.mjs
//
// Against a box that has never been set up. Walks what a technician does: first-boot
// setup, the dashboard (multiview with tally), a layout switch seen on the program
// thumbnail, an RTMP destination added and seen live, a reload (page weight and time to
// interactive measured), the phone-sized layout (no horizontal overflow; screenshots kept),
// and a wrong password rate-limited. Prints a JSON report; exits non-zero on the first
// failed check, saying which.
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.BASE_URL;
const rtmpUrl = process.env.RTMP_URL;
const artefacts = process.env.ARTEFACTS || 'test-results';
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base || !rtmpUrl) {
  console.error('set BASE_URL and RTMP_URL');
  process.exit(2);
}
mkdirSync(artefacts, { recursive: true });
const password = `ui-test-${process.pid}-pass`;
const report = {};
const pageErrors = [];

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

/** Average RGB of an <img> (same origin, so its pixels can be read). */
async function pixels(page, selector) {
  return page.$eval(selector, (img) => {
    const c = document.createElement('canvas');
    c.width = 32; c.height = 18;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0, 32, 18);
    return Array.from(g.getImageData(0, 0, 32, 18).data);
  });
}

function difference(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) if (i % 4 !== 3) sum += Math.abs(a[i] - b[i]);
  return sum / (a.length * 0.75);
}

/** The page's load: time to interactive (its own mark), bytes of the UI's files. */
async function loadFigures(page) {
  return page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const assets = performance.getEntriesByType('resource').filter((r) => !r.name.includes('/api/') && !r.name.includes('/hls/'));
    return {
      interactive_ms: performance.getEntriesByName('fourcast-interactive')[0].startTime,
      dom_content_loaded_ms: nav.domContentLoadedEventEnd,
      transfer_bytes: nav.transferSize + assets.reduce((s, r) => s + r.transferSize, 0),
      decoded_bytes: nav.decodedBodySize + assets.reduce((s, r) => s + r.decodedBodySize, 0),
      files: 1 + assets.length,
    };
  });
}

async function noOverflow(page, what) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  }));
  check(scroll <= client, `${what}: no horizontal overflow (${scroll} ≤ ${client} px)`);
}

const browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => { errors.push(String(e)); pageErrors.push(String(e)); });
  // The box's Content-Security-Policy must not block anything the UI itself does.
  page.on('console', (m) => { if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) errors.push(m.text()); });

  // 1. First-boot setup: no default password; the first visit sets it.
  await page.goto(base);
  await page.waitForSelector('#access:not([hidden])');
  check((await page.textContent('#access-title')).includes('set up'), 'the first visit leads to setup');
  await page.fill('#setup-code', 'WRNG-CODE');
  await page.fill('#password', password);
  await page.fill('#password2', `${password}x`);
  await page.click('#access-form button');
  await page.waitForFunction(() => document.getElementById('access-msg').textContent.includes('differ'));
  check(true, 'setup refuses two different passwords');
  await page.fill('#password2', password);
  await page.click('#access-form button');
  await page.waitForFunction(() => document.getElementById('access-msg').textContent.includes('setup code'));
  check(true, 'setup refuses a wrong setup code');
  // The code as a technician reads it off the console, typed in lower case.
  await page.fill('#setup-code', process.env.SETUP_CODE.toLowerCase());
  await page.click('#access-form button');
  await page.waitForSelector('#dashboard:not([hidden])');
  check(true, 'setup signs in and shows the dashboard');

  // 2. Dashboard: multiview thumbnails with tally, meters, outputs health.
  await page.waitForFunction(() => document.querySelectorAll('#multiview button.tile').length === 4);
  await page.waitForFunction(() => {
    const img = document.querySelector('#program-tile img');
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 20000 });
  await page.waitForFunction(() => document.querySelectorAll('#meters .meter').length === 5);
  await page.waitForFunction(() => document.querySelectorAll('#health tbody tr').length >= 1);
  const tallied = await page.$$eval('#multiview button.tile.program', (t) => t.length);
  check(tallied === 4, `the grid has all four inputs on program (tally on ${tallied})`);
  await page.waitForTimeout(600);
  const before = await pixels(page, '#program-tile img');
  await page.screenshot({ path: join(artefacts, 'dashboard-desktop.png'), fullPage: true });

  // 3. Switch a layout: click CAM 2 in the multiview (take it full frame).
  await page.click('#multiview button.tile[data-input="cam2"]');
  await page.waitForFunction(() => {
    const on = [...document.querySelectorAll('#multiview button.tile.program')].map((t) => t.dataset.input);
    return on.length === 1 && on[0] === 'cam2';
  });
  check(true, 'taking CAM 2 moves the tally to CAM 2 alone');
  let changed = 0;
  for (let i = 0; i < 40 && changed < 20; i++) {
    await page.waitForTimeout(250);
    changed = difference(before, await pixels(page, '#program-tile img'));
  }
  report.program_thumbnail_change = Number(changed.toFixed(1));
  check(changed >= 20, `the program thumbnail changed after the take (mean |Δ| ${changed.toFixed(1)} of 255)`);
  await page.screenshot({ path: join(artefacts, 'dashboard-after-take.png'), fullPage: true });

  // The program page: a scene by name brings all four back.
  await page.click('nav a[href="#program"]');
  await page.waitForSelector('#scenes button');
  await page.click('#scenes button:text-is("all")');
  await page.waitForFunction(() => document.getElementById('on-air').textContent.includes('grid'));
  check(true, 'the scene "all" is taken from the program page');
  await page.waitForSelector('#mixer .strip');
  check((await page.$$('#mixer .strip')).length === 5, 'the audio mixer has a strip per input and a master');

  // Overlays: a lower third added to the config shows from its button on the program page.
  const patched = await page.evaluate(async () => {
    const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
    const cfg = await (await fetch('/api/v1/config')).json();
    const res = await fetch('/api/v1/config', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ base_revision: cfg.revision, patch: { overlays: { lower_third: { title: 'Browser test', visible: false } } } }),
    });
    return res.status;
  });
  check(patched === 200, `a lower third is configured (PATCH ${patched})`);
  await page.click('nav a[href="#inputs"]');
  await page.click('nav a[href="#program"]');
  await page.waitForSelector('#overlay-lower_third');
  check((await page.textContent('#overlay-lower_third')).includes('hidden'), 'the lower third starts hidden');
  await page.click('#overlay-lower_third');
  await page.waitForFunction(() => document.getElementById('overlay-lower_third').textContent.includes('shown'));
  const visible = await page.evaluate(async () => (await (await fetch('/api/v1/config')).json()).config.overlays.lower_third.visible);
  check(visible === true, 'the button showed the lower third (config says visible)');

  // A lost input: cam4 becomes an SRT listener nobody sends to; its multiview tile says so.
  const swapped = await page.evaluate(async () => {
    const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
    const cfg = await (await fetch('/api/v1/config')).json();
    const inputs = cfg.config.inputs.map((i) => (i.name === 'cam4'
      ? { name: 'cam4', label: 'CAM 4', kind: 'srt', listen_port: 20000 + Math.floor(Math.random() * 20000), passphrase: 'stage-passphrase-1' } : i));
    const res = await fetch('/api/v1/config', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ base_revision: cfg.revision, patch: { inputs } }),
    });
    return res.status;
  });
  check(swapped === 200, `cam4 is now an SRT input (PATCH ${swapped})`);
  await page.click('nav a[href="#dashboard"]');
  await page.waitForFunction(() => {
    const t = document.querySelector('#multiview button.tile[data-input="cam4"]');
    return t && t.classList.contains('lost') && t.dataset.state === 'NO SIGNAL';
  }, null, { timeout: 15000 });
  check(true, 'the multiview marks the input without a signal: NO SIGNAL');
  await page.screenshot({ path: join(artefacts, 'dashboard-no-signal.png'), fullPage: true });

  // 4. Outputs: add an RTMP destination and see it go live.
  await page.click('nav a[href="#outputs"]');
  await page.waitForSelector('#rtmp-form select[name=rung] option', { state: 'attached' });
  await page.fill('#rtmp-form input[name=name]', 'venue');
  await page.fill('#rtmp-form input[name=url]', rtmpUrl);
  await page.fill('#rtmp-form input[name=key]', 'stream1');
  await page.click('#rtmp-form button');
  await page.waitForSelector('#destination-table tr[data-name="venue"]');
  check(true, 'the RTMP destination is listed');
  const t0 = Date.now();
  await page.waitForFunction(() => {
    const row = document.querySelector('#destination-table tr[data-name="venue"]');
    return row && row.children[4].textContent === 'live';
  }, null, { timeout: 30000 });
  report.rtmp_live_after_s = (Date.now() - t0) / 1000;
  check(true, `the RTMP destination went live (${report.rtmp_live_after_s} s after it was listed)`);
  const keyShown = await page.evaluate(async () => (await (await fetch('/api/v1/config')).text()).includes('stream1'));
  check(!keyShown, 'the stream key is never sent back (write-only)');
  await page.fill('#rtmp-form input[name=name]', 'bad');
  await page.fill('#rtmp-form input[name=url]', 'http://example.invalid/x');
  await page.fill('#rtmp-form input[name=key]', 'k');
  await page.click('#rtmp-form button');
  await page.waitForFunction(() => document.getElementById('outputs-msg').textContent.includes('outputs.rtmp[1].url'));
  check(true, `a bad URL is refused naming the field: "${await page.textContent('#outputs-msg')}"`);
  await page.screenshot({ path: join(artefacts, 'outputs-desktop.png'), fullPage: true });

  // 5. Reload the dashboard (signed in): page weight and time to interactive, with the
  // browser's cache (files revalidated: 304) and then with an empty one.
  await page.goto(`${base}/#dashboard`);
  await page.reload();
  await page.waitForFunction(() => performance.getEntriesByName('fourcast-interactive').length > 0, null, { timeout: 20000 });
  const perf = await loadFigures(page);
  // The same load with an empty cache (what a first visit transfers).
  const cold = await browser.newContext({ storageState: await context.storageState() });
  const coldPage = await cold.newPage();
  await coldPage.goto(`${base}/#dashboard`);
  await coldPage.waitForFunction(() => performance.getEntriesByName('fourcast-interactive').length > 0, null, { timeout: 20000 });
  const coldPerf = await loadFigures(coldPage);
  await cold.close();
  report.dashboard = { warm: perf, cold: coldPerf };
  check(perf.interactive_ms > 0 && coldPerf.transfer_bytes > 10000, 'page weight and time to interactive measured');
  const outside = await page.evaluate(() => performance.getEntriesByType('resource').filter((r) => !r.name.startsWith(location.origin)).map((r) => r.name));
  check(outside.length === 0, `everything comes from the box (outside requests: ${outside.join(', ') || 'none'})`);

  // 6. A phone-sized screen: no horizontal overflow on any page; screenshots kept.
  const phone = await browser.newContext({ storageState: await context.storageState(), viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const mobile = await phone.newPage();
  await mobile.goto(`${base}/#dashboard`);
  await mobile.waitForFunction(() => document.querySelectorAll('#multiview button.tile').length === 4);
  await mobile.waitForFunction(() => performance.getEntriesByName('fourcast-interactive').length > 0);
  await mobile.waitForTimeout(1500);
  await noOverflow(mobile, 'phone dashboard');
  await mobile.screenshot({ path: join(artefacts, 'phone-dashboard.png'), fullPage: true });
  for (const p of ['program', 'inputs', 'outputs', 'recordings', 'device']) {
    await mobile.click(`nav a[href="#${p}"]`);
    await mobile.waitForSelector(`#${p}:not([hidden])`);
    await mobile.waitForTimeout(700);
    await noOverflow(mobile, `phone ${p} page`);
    if (p === 'device') {
      await mobile.waitForFunction(() => document.getElementById('fleet-info').textContent.includes('Fleet'));
      check((await mobile.textContent('#fleet-info')).includes('off'), 'the Device page says the fleet link is off');
      await mobile.waitForFunction(() => document.getElementById('ota-info').textContent.includes('Updates'));
      check((await mobile.textContent('#ota-info')).includes('--rauc-bus'), 'the Device page says this box has no updater');
      check(await mobile.isHidden('#ota-upload'), 'no upload offered without an updater');
      // The virtual board's front panel: its screen as the OLED would show it, its buttons.
      await mobile.waitForFunction(() => document.getElementById('panel-screen').naturalWidth === 128);
      check(true, 'the Device page shows the panel\'s 128×64 screen');
      const before = await mobile.textContent('#panel-msg');
      await mobile.click('#panel-buttons button[data-button="next_scene"]');
      await mobile.waitForFunction(() => document.getElementById('panel-msg').textContent.includes('Last press: next_scene'));
      check(true, `the panel's Next button moves what Cut takes ("${before}" → "${await mobile.textContent('#panel-msg')}")`);
    }
    if (p === 'program' || p === 'outputs') await mobile.screenshot({ path: join(artefacts, `phone-${p}.png`), fullPage: true });
  }
  await phone.close();

  // 7. Sign out; a wrong password is rate-limited.
  await page.click('#logout');
  await page.waitForSelector('#access:not([hidden])');
  check((await page.textContent('#access-title')) === 'Sign in', 'signing out leads back to sign-in');
  // The backoff doubles from 1 s: keep failing (waiting out each pause) until the pause is
  // long enough that the right password below surely lands inside it.
  const attempt = async (pw) => {
    await page.$eval('#access-msg', (m) => { m.textContent = ''; });
    await page.fill('#password', pw);
    await page.click('#access-form button');
    await page.waitForFunction(() => document.getElementById('access-msg').textContent !== '', null, { timeout: 10000 });
    return page.textContent('#access-msg');
  };
  let tries = 0;
  let firstThrottled = 0;
  let message = '';
  let wait = 0;
  while (tries < 12 && wait < 8) {
    tries += 1;
    message = await attempt(`wrong-password-${tries}`);
    const m = message.match(/too many failed logins: try again in (\d+) s/);
    if (m) {
      firstThrottled ||= tries;
      wait = Number(m[1]);
      if (wait < 8) await page.waitForTimeout(wait * 1000 + 300);
    }
  }
  report.wrong_password_tries_until_throttled = firstThrottled;
  report.throttle_wait_s_after_tries = [tries, wait];
  check(firstThrottled > 0 && firstThrottled <= 5, `wrong passwords are throttled from try ${firstThrottled}: "${message}"`);
  const during = await attempt(password);
  check(during.includes('too many'), `even the right password waits while throttled: "${during}"`);
  await page.screenshot({ path: join(artefacts, 'throttled.png') });

  check(errors.length === 0, `no script errors in the page (${errors.join('; ') || 'none'})`);
  writeFileSync(join(artefacts, 'report.json'), JSON.stringify(report, null, 2));
  console.log(`REPORT ${JSON.stringify(report)}`);
} catch (e) {
  console.log(`page errors so far: ${JSON.stringify(pageErrors)}`);
  throw e;
} finally {
  await browser.close();
}
