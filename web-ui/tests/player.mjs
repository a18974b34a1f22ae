// hls.js (the copy the box serves) plays one of the box's HLS variants in Debian's chromium,
// as a viewer would, and says how it went.
//
//   BASE_URL=http://127.0.0.1:PORT PLAYLIST=/hls/ll/master.m3u8 LOW_LATENCY=1 SECONDS=60 \
//     node tests/player.mjs
//
// Prints one JSON line: seconds played, stalls (the player waiting for data after it began),
// live latency samples (hls.js's own `latency`: the live edge minus the playhead, once a
// second) with their median and p95, fatal errors. Exits 1 if playback never began or a
// fatal error ended it; stalls are for the caller to judge.
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const playlist = process.env.PLAYLIST || '/hls/ll/master.m3u8';
const lowLatency = process.env.LOW_LATENCY === '1';
const seconds = Number(process.env.SECONDS || 60);
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base) {
  console.error('set BASE_URL');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: browserPath,
  args: ['--autoplay-policy=no-user-gesture-required', '--no-sandbox'],
});
let report;
try {
  const page = await browser.newPage();
  // A page of the box's own origin, so hls.js and the playlists are same-origin.
  await page.route(`${base}/player-test`, (route) => route.fulfill({
    contentType: 'text/html',
    body: '<!doctype html><video id="v" muted playsinline></video>',
  }));
  await page.goto(`${base}/player-test`);
  await page.addScriptTag({ url: `${base}/vendor/hls.min.js` });
  report = await page.evaluate(async ({ src, lowLatency, seconds }) => {
    const video = document.getElementById('v');
    const out = { playlist: src, low_latency: lowLatency, stalls: 0, stalled_s: 0, latency_s: [], errors: [] };
    if (!window.Hls || !window.Hls.isSupported()) {
      out.errors.push('hls.js: MediaSource is not supported here');
      return out;
    }
    // The web UI's preview tuning (src/app.js).
    const tuning = lowLatency ? { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 } : { liveSyncDurationCount: 2 };
    const hls = new window.Hls({ ...tuning, maxBufferLength: 8, backBufferLength: 0 });
    let began = null;
    let waitingSince = null;
    video.addEventListener('playing', () => {
      if (began === null) began = performance.now();
      if (waitingSince !== null) {
        out.stalled_s += (performance.now() - waitingSince) / 1000;
        waitingSince = null;
      }
    });
    video.addEventListener('waiting', () => {
      if (began !== null && waitingSince === null) {
        out.stalls += 1;
        waitingSince = performance.now();
      }
    });
    hls.on(window.Hls.Events.ERROR, (_, d) => {
      if (d.fatal) out.errors.push(`${d.type}: ${d.details}`);
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    video.play().catch(() => {});
    const start = performance.now();
    while (performance.now() - start < (seconds + 30) * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      if (out.errors.length) break;
      if (began === null) {
        if (performance.now() - start > 30000) {
          out.errors.push('playback did not begin within 30 s');
          break;
        }
        continue;
      }
      if (Number.isFinite(hls.latency) && hls.latency > 0) out.latency_s.push(hls.latency);
      if (performance.now() - began >= seconds * 1000) break;
    }
    out.played_s = began === null ? 0 : (performance.now() - began) / 1000;
    out.startup_s = began === null ? null : (began - start) / 1000;
    out.current_time_s = video.currentTime;
    hls.destroy();
    return out;
  }, { src: `${base}${playlist}`, lowLatency, seconds });
} finally {
  await browser.close();
}
const sorted = [...report.latency_s].sort((a, b) => a - b);
const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
report.latency_median_s = at(0.5);
report.latency_p95_s = at(0.95);
report.latency_samples = sorted.length;
delete report.latency_s;
console.log(JSON.stringify(report));
process.exit(report.errors.length || !report.played_s ? 1 : 0);
