// The technician's web UI: one page, no framework. It talks to the box's REST API
// (/api/v1, documented at /api/v1/openapi.json) and listens to its event stream.
import { el, fmtBytes, fmtDuration, meterHeight } from './ui.js';

const state = { csrf: null, status: null, program: null, inputs: [], config: null, revision: 0, events: null, hls: null };

// ---- API ------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (r.status === 401 && path !== '/api/v1/login') showAccess();
  return { ok: r.ok, status: r.status, data };
}

/** The message of an error answer, with the field it names. */
function problem(res) {
  const e = res.data && res.data.error;
  if (!e) return `${res.status}`;
  const all = (res.data.errors || []).map((x) => (x.path ? `${x.path}: ${x.message}` : x.message));
  if (all.length > 1) return all.join('; ');
  return e.path ? `${e.path}: ${e.message}` : e.message;
}

/** A config change as a merge patch, based on the revision this page last read. */
async function patchConfig(patch) {
  await loadConfig();
  const res = await api('PATCH', '/api/v1/config', { base_revision: state.revision, patch });
  if (res.ok) { state.config = res.data.config; state.revision = res.data.revision; }
  return res;
}

async function loadConfig() {
  const res = await api('GET', '/api/v1/config');
  if (res.ok) { state.config = res.data.config; state.revision = res.data.revision; }
  return res;
}

// ---- Access: first-boot setup and sign-in ---------------------------------------------

async function start() {
  const s = await fetch('/api/v1/session');
  if (s.ok) {
    state.csrf = (await s.json()).csrf;
    return showApp();
  }
  return showAccess();
}

async function showAccess() {
  stopLive();
  const needed = (await (await fetch('/api/v1/setup')).json()).needed;
  for (const p of document.querySelectorAll('.page')) p.hidden = true;
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('live').hidden = true;
  const form = document.getElementById('access-form');
  document.getElementById('access').hidden = false;
  document.getElementById('access-title').textContent = needed ? 'Welcome: set up this box' : 'Sign in';
  document.getElementById('access-help').textContent = needed
    ? 'There is no default password. Type the setup code the box shows on its console or front panel, and choose the admin password (10 characters or more); you will need it to sign in.'
    : 'Sign in with the admin password.';
  document.getElementById('confirm-label').hidden = !needed;
  document.getElementById('code-label').hidden = !needed;
  document.getElementById('setup-code').required = needed;
  document.getElementById('password').autocomplete = needed ? 'new-password' : 'current-password';
  form.onsubmit = async (e) => {
    e.preventDefault();
    const msg = document.getElementById('access-msg');
    const password = document.getElementById('password').value;
    if (needed && password !== document.getElementById('password2').value) {
      msg.textContent = 'The two passwords differ.';
      return;
    }
    const res = needed
      ? await api('POST', '/api/v1/setup', { password, code: document.getElementById('setup-code').value })
      : await api('POST', '/api/v1/login', { password });
    if (!res.ok) {
      msg.textContent = problem(res);
      return;
    }
    msg.textContent = '';
    form.reset();
    state.csrf = res.data.csrf;
    showApp();
  };
}

// ---- Pages ----------------------------------------------------------------------------

const pages = ['dashboard', 'program', 'inputs', 'outputs', 'recordings', 'device'];

function showApp() {
  document.getElementById('access').hidden = true;
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  startLive();
  route();
}

function route() {
  if (!state.csrf && document.getElementById('nav').hidden) return;
  const page = pages.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'dashboard';
  for (const p of pages) document.getElementById(p).hidden = p !== page;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.getAttribute('href') === `#${page}`);
  if (page === 'dashboard') startPreview(); else stopPreview();
  const load = { program: loadProgram, inputs: loadInputs, outputs: loadOutputs, recordings: loadRecordings, device: loadDevice };
  if (load[page]) load[page]();
}

// ---- Live: event stream, thumbnails ---------------------------------------------------

let thumbTimer = null;

function startLive() {
  if (state.events) return;
  const live = document.getElementById('live');
  const es = new EventSource('/api/v1/events/stream');
  state.events = es;
  es.addEventListener('status', (m) => {
    state.status = JSON.parse(m.data);
    live.hidden = false;
    live.textContent = `live · ${state.status.program.fps.toFixed(1)} fps`;
    live.className = 'pill ok';
    renderStatus();
    markLost();
  });
  es.onerror = () => { live.textContent = 'reconnecting…'; live.className = 'pill bad'; };
  for (const type of ['engine_error', 'engine_warning', 'uplink_failed', 'recording_failed', 'config_rejected', 'login_throttled', 'recording_stopped']) {
    es.addEventListener(type, (m) => { if (m.data) alert(type, JSON.parse(m.data)); });
  }
  for (const type of ['program_taken', 'config_applied', 'mix_changed']) {
    es.addEventListener(type, () => refreshProgram());
  }
  es.addEventListener('ota', () => { if (!document.getElementById('device').hidden) loadOta(); });
  refreshProgram();
  thumbTimer = setInterval(refreshThumbs, 500);
}

function stopLive() {
  if (state.events) state.events.close();
  state.events = null;
  clearInterval(thumbTimer);
  stopPreview();
}

async function refreshProgram() {
  const [p, i] = await Promise.all([api('GET', '/api/v1/program'), api('GET', '/api/v1/inputs')]);
  if (p.ok) state.program = p.data;
  if (i.ok) state.inputs = i.data;
  renderMultiview();
  if (!document.getElementById('program').hidden) renderProgramPage();
}

function refreshThumbs() {
  if (document.hidden) return;
  const t = Date.now();
  for (const img of document.querySelectorAll('img[data-thumb]')) {
    if (img.offsetParent === null) continue;
    const next = new Image();
    next.onload = () => { img.src = next.src; img.hidden = false; };
    next.src = `${img.dataset.thumb}?t=${t}`;
  }
}

function alert(type, data) {
  const list = document.getElementById('alerts');
  if (list.firstElementChild && !list.firstElementChild.dataset.at) list.innerHTML = '';
  const text = data.message || (data.errors && data.errors.map((e) => `${e.path}: ${e.message}`).join('; '))
    || data.reason || data.source || '';
  const name = data.destination || data.name || '';
  const li = el('li', { className: type.endsWith('error') || type.endsWith('failed') ? 'error' : '' },
    `${new Date().toLocaleTimeString()} · ${type.replace(/_/g, ' ')}${name ? ` (${name})` : ''}: ${text}`);
  li.dataset.at = Date.now();
  list.prepend(li);
  while (list.children.length > 20) list.lastElementChild.remove();
}

// ---- Dashboard ------------------------------------------------------------------------

async function startPreview() {
  const video = document.getElementById('preview');
  if (state.hls || video.src) return;
  // A signed URL plays whether the origin is open or signed-only.
  const grant = await api('POST', '/api/v1/hls/sign', {});
  if (!grant.ok || state.hls || video.src) return;
  // The low-latency variant where the box serves it: the program about as live as the multiview.
  const lowLatency = Boolean(grant.data.low_latency_url);
  const url = grant.data.low_latency_url || grant.data.url;
  if (window.Hls && window.Hls.isSupported()) {
    const tuning = lowLatency ? { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 } : { liveSyncDurationCount: 2 };
    const hls = new window.Hls({ ...tuning, maxBufferLength: 8, backBufferLength: 0 });
    hls.loadSource(url);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.ERROR, (_, d) => {
      if (d.fatal) { document.getElementById('preview-note').textContent = `Preview: ${d.details}; retrying.`; hls.startLoad(); }
    });
    state.hls = hls;
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
  } else {
    document.getElementById('preview-note').textContent = 'This browser cannot play HLS: the multiview PROGRAM tile is the preview.';
  }
  video.play().catch(() => {});
}

function stopPreview() {
  if (state.hls) { state.hls.destroy(); state.hls = null; }
}

function renderMultiview() {
  const box = document.getElementById('multiview');
  const onProgram = new Set((state.program && state.program.inputs) || []);
  const want = state.inputs.map((i) => i.name).join(',');
  if (box.dataset.names !== want) {
    box.dataset.names = want;
    const pgm = el('img', { alt: 'program' });
    pgm.dataset.thumb = '/api/v1/program/thumbnail.jpg';
    const programTile = el('div', { className: 'tile pgm', id: 'program-tile', title: 'The program, near live' }, pgm, el('span', {}, 'PROGRAM'));
    box.replaceChildren(programTile, ...state.inputs.map((i) => {
      const img = el('img', { alt: i.label });
      img.dataset.thumb = i.thumbnail;
      const tile = el('button', { className: 'tile', title: `Take ${i.label} full frame` }, img, el('span', {}, i.label));
      tile.dataset.input = i.name;
      tile.onclick = () => take({ layout: 'single', inputs: [i.name] });
      return tile;
    }));
    refreshThumbs();
  }
  for (const tile of box.querySelectorAll('button.tile')) tile.classList.toggle('program', onProgram.has(tile.dataset.input));
  markLost();
}

// An input without pictures says so over its (last) thumbnail: NO SIGNAL, RETRYING, ENDED.
function markLost() {
  const states = new Map(((state.status && state.status.inputs) || []).map((i) => [i.name, i.state]));
  for (const tile of document.querySelectorAll('#multiview button.tile')) {
    const st = states.get(tile.dataset.input);
    const lost = Boolean(st) && st !== 'live';
    tile.classList.toggle('lost', lost);
    tile.dataset.state = lost ? st.toUpperCase().replace('-', ' ') : '';
  }
}

function renderStatus() {
  const s = state.status;
  if (!performance.getEntriesByName('fourcast-interactive').length) {
    // Signed in and showing live figures: what a technician waits for.
    performance.mark('fourcast-interactive');
  }
  const meters = document.getElementById('meters');
  const strips = [...s.inputs.map((i) => [i.name, i.audio]), ['program', s.program.audio]];
  if (meters.children.length !== strips.length) {
    meters.replaceChildren(...strips.map(([name]) => el('div', { className: 'meter' },
      el('div', { className: 'bar' }, el('div', { className: 'rms' }), el('div', { className: 'peak' })),
      el('span', { className: 'db' }, ''), el('span', {}, name))));
  }
  strips.forEach(([, levels], n) => {
    const m = meters.children[n];
    m.querySelector('.rms').style.height = `${meterHeight(levels.rms_dbfs)}%`;
    m.querySelector('.peak').style.bottom = `${meterHeight(levels.peak_dbfs)}%`;
    m.querySelector('.db').textContent = levels.rms_dbfs <= -96 ? '−∞' : levels.rms_dbfs.toFixed(0);
  });
  const rows = s.destinations.map((d) => el('tr', {},
    el('td', {}, d.name), el('td', {}, d.kind), el('td', { className: `state-${d.state}` }, d.state),
    el('td', {}, `${Math.round(d.bitrate_kbps)} kbit/s`), el('td', {}, d.srt ? `${d.srt.rtt_ms.toFixed(0)} ms` : '–'),
    el('td', {}, String(d.reconnects)), el('td', {}, d.last_error || '')));
  const hls = s.rungs.map((r) => el('tr', {}, el('td', {}, `HLS ${r.name}`), el('td', {}, 'hls'),
    el('td', { className: 'state-live' }, `${r.segments} segments`), el('td', {}, `${Math.round(r.measured_kbps)} kbit/s`),
    el('td', {}, '–'), el('td', {}, '–'), el('td', {}, r.dropped_frames ? `${r.dropped_frames} dropped` : '')));
  const rec = s.recording ? [el('tr', {}, el('td', {}, 'recording'), el('td', {}, 'file'),
    el('td', { className: `state-${s.recording.state}` }, s.recording.state), el('td', {}, fmtBytes(s.recording.file_bytes)),
    el('td', {}, '–'), el('td', {}, '–'), el('td', {}, s.recording.last_error || ''))] : [];
  document.getElementById('health').replaceChildren(el('div', { className: 'scroll' }, el('table', {},
    el('thead', {}, el('tr', {}, ...['Output', 'Kind', 'State', 'Bitrate', 'RTT', 'Reconnects', 'Note'].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...hls, ...rows, ...rec))));
  if (!document.getElementById('recordings').hidden) renderRecorder();
  for (const row of document.querySelectorAll('#destination-table tbody tr')) {
    const d = s.destinations.find((x) => x.name === row.dataset.name);
    const cell = row.children[4];
    if (d && cell.textContent !== d.state) { cell.textContent = d.state; cell.className = `state-${d.state}`; }
  }
}

// ---- Program: scenes, layouts, audio mixer --------------------------------------------

async function take(body) {
  const res = await api('POST', '/api/v1/program/take', body);
  document.getElementById('take-msg').textContent = res.ok ? '' : problem(res);
  if (res.ok) refreshProgram();
  return res;
}

async function loadProgram() {
  await refreshProgram();
  const mix = await api('GET', '/api/v1/audio');
  if (mix.ok) renderMixer(mix.data);
  await loadConfig();
  renderOverlays();
}

// The configured overlays, each a button that shows or hides it on the program.
function renderOverlays() {
  const o = (state.config && state.config.overlays) || {};
  const names = { logo: 'Logo', lower_third: 'Lower third', clock: 'Clock' };
  const present = Object.keys(names).filter((n) => o[n]);
  document.getElementById('overlays').replaceChildren(...(present.length === 0
    ? [el('p', { className: 'small' }, 'None configured (see [overlays] in the config).')]
    : present.map((n) => {
      const b = el('button', { className: o[n].visible ? 'on' : 'quiet', id: `overlay-${n}` },
        `${names[n]}: ${o[n].visible ? 'shown' : 'hidden'}`);
      b.onclick = async () => {
        const res = await api('POST', `/api/v1/overlays/${n}/${o[n].visible ? 'hide' : 'show'}`);
        document.getElementById('overlay-msg').textContent = res.ok ? '' : problem(res);
        if (res.ok) { state.config = res.data.config; state.revision = res.data.revision; renderOverlays(); }
      };
      return b;
    })));
}

function renderProgramPage() {
  const p = state.program;
  if (!p) return;
  document.getElementById('scenes').replaceChildren(...p.scenes.map((s) => {
    const b = el('button', { className: 'quiet', title: `${s.layout}: ${(s.inputs || []).join(', ') || 'all'}` }, s.name);
    b.onclick = () => take({ scene: s.name, ...transition() });
    return b;
  }));
  document.getElementById('on-air').textContent = `On program: ${p.layout} · ${p.inputs.join(', ')}`
    + (p.last_switch_ms != null ? ` · last take reached the program in ${p.last_switch_ms.toFixed(0)} ms` : '');
  const box = document.getElementById('take-inputs');
  if (box.dataset.names !== state.inputs.map((i) => i.name).join(',')) {
    box.dataset.names = state.inputs.map((i) => i.name).join(',');
    box.replaceChildren(...state.inputs.map((i, n) => el('label', { className: 'inline' },
      el('input', { type: 'checkbox', value: i.name, checked: n === 0 }), i.label)));
  }
}

function transition() {
  const kind = document.getElementById('take-transition').value;
  return kind === 'fade' ? { transition: 'fade', duration_ms: Number(document.getElementById('take-duration').value) } : {};
}

document.getElementById('take-form').onsubmit = (e) => {
  e.preventDefault();
  const inputs = [...document.querySelectorAll('#take-inputs input:checked')].map((i) => i.value);
  take({ layout: document.getElementById('take-layout').value, inputs, ...transition() });
};

function renderMixer(mix) {
  document.getElementById('follow-video').checked = mix.follow_video;
  const strip = (name, label, gain, extra) => el('div', { className: 'strip' }, el('strong', {}, label),
    el('label', {}, `Gain ${gain.toFixed(1)} dB`, Object.assign(el('input', { type: 'range', min: -60, max: 20, step: 0.5, value: gain }),
      { onchange: (e) => changeMix(name, { gain_db: Number(e.target.value) }) })), ...extra);
  const toggle = (name, key, on, text) => {
    const b = el('button', { className: on ? 'on danger' : 'quiet' }, text);
    b.onclick = () => changeMix(name, { [key]: !on });
    return b;
  };
  document.getElementById('mixer').replaceChildren(
    ...mix.inputs.map((i) => strip(i.name, i.name, i.gain_db, [el('div', { className: 'buttons' },
      toggle(i.name, 'mute', i.mute, 'Mute'), toggle(i.name, 'solo', i.solo, 'Solo'))])),
    strip(null, 'Master', mix.master_gain_db, []));
}

async function changeMix(input, change) {
  const body = input ? { inputs: { [input]: change } } : { master_gain_db: change.gain_db };
  const res = await api('POST', '/api/v1/audio', body);
  document.getElementById('mix-msg').textContent = res.ok ? '' : problem(res);
  if (res.ok) renderMixer(res.data);
}

document.getElementById('follow-video').onchange = async (e) => {
  const res = await api('POST', '/api/v1/audio', { follow_video: e.target.checked });
  document.getElementById('mix-msg').textContent = res.ok ? '' : problem(res);
};

// ---- Inputs ---------------------------------------------------------------------------

async function loadInputs() {
  await refreshProgram();
  document.getElementById('input-list').replaceChildren(...state.inputs.map((i) => {
    const img = el('img', { alt: i.label });
    img.dataset.thumb = i.thumbnail;
    return el('div', { className: 'card' }, img, el('h3', {}, `${i.label} `, el('span', { className: 'small' }, i.name)),
      el('p', { className: `state-${i.state}` }, `${i.state} · ${i.fps.toFixed(1)} fps · ${i.kind}`
        + `${i.width ? ` · ${i.width}×${i.height}` : ''}${i.on_program ? ' · ON PROGRAM' : ''}`),
      ...(i.last_error ? [el('p', { className: 'small error' }, i.last_error)] : []),
      el('p', { className: 'small' }, `audio ${i.audio.rms_dbfs.toFixed(0)} dBFS RMS · ${i.frames} frames`));
  }));
  refreshThumbs();
  loadDevices();
}

/** The capture devices on the board; the ones no input uses can be added with a click. */
async function loadDevices() {
  const res = await api('GET', '/api/v1/devices');
  if (!res.ok) return;
  const list = res.data.devices;
  const sizes = (d) => {
    const all = d.formats.flatMap((f) => f.sizes.map((s) => `${s.width}×${s.height}`));
    return [...new Set(all)].slice(0, 4).join(', ') || 'sizes follow the source';
  };
  document.getElementById('device-list').replaceChildren(list.length === 0 ? el('p', { className: 'small' }, 'No capture devices found.')
    : el('div', { className: 'scroll' }, el('table', { id: 'device-table' },
      el('thead', {}, el('tr', {}, ...['Device', 'Node', 'Formats', 'Sizes', 'Signal', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...list.map((d) => {
        const add = el('button', {}, 'Add this camera');
        add.onclick = () => addCamera(d);
        return el('tr', { 'data-node': d.node }, el('td', {}, `${d.card} (${d.driver})${d.usb_port ? ` · USB ${d.usb_port}` : ''}`),
          el('td', {}, d.stable), el('td', {}, d.formats.map((f) => f.fourcc).join(' ')), el('td', {}, sizes(d)),
          el('td', {}, `${d.dv_timings ? 'HDMI timings' : 'frames'}${d.input_status ? ` · ${d.input_status}` : ''}`),
          el('td', {}, d.input ? `input ${d.input}` : add));
      })))));
}

async function addCamera(d) {
  await loadConfig();
  const inputs = state.config.inputs;
  let n = 1;
  while (inputs.some((i) => i.name === `cam${n}`)) n++;
  const res = await patchConfig({ inputs: [...inputs, { name: `cam${n}`, label: `CAM ${n}`, kind: 'v4l2', device: d.stable }] });
  document.getElementById('inputs-msg').textContent = res.ok ? '' : problem(res);
  loadInputs();
}

// ---- Outputs --------------------------------------------------------------------------

async function loadOutputs() {
  await loadConfig();
  const c = state.config;
  const viewers = c.http.hls_access === 'signed'
    ? 'signed URLs only: make one below' : `${location.origin}/hls/master.m3u8 (open)`;
  document.getElementById('hls-url').textContent = viewers;
  document.getElementById('ladder').replaceChildren(el('div', { className: 'scroll' }, el('table', {},
    el('thead', {}, el('tr', {}, ...['Rung', 'Size', 'Bitrate'].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...c.ladder.rungs.map((r) => el('tr', {}, el('td', {}, r.name), el('td', {}, `${r.width}×${r.height}`),
      el('td', {}, `${r.bitrate_kbps} kbit/s`)))))));
  for (const sel of document.querySelectorAll('.rung-select')) {
    sel.replaceChildren(...c.ladder.rungs.map((r) => el('option', { value: r.name }, r.name)));
  }
  const live = new Map(((state.status && state.status.destinations) || []).map((d) => [d.name, d]));
  const all = [...(c.outputs.srt || []).map((o) => ['srt', o]), ...(c.outputs.rtmp || []).map((o) => ['rtmp', o])];
  document.getElementById('destinations').replaceChildren(all.length === 0 ? el('p', { className: 'small' }, 'None yet.')
    : el('div', { className: 'scroll' }, el('table', { id: 'destination-table' },
      el('thead', {}, el('tr', {}, ...['Name', 'Kind', 'Target', 'Rung', 'State', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...all.map(([kind, o]) => {
        const s = live.get(o.name);
        const target = kind === 'rtmp' ? o.url : `${o.mode} ${o.host || o.bind || ''}:${o.port}`;
        const toggle = el('button', { className: 'quiet' }, o.enabled ? 'Stop' : 'Start');
        toggle.onclick = () => outputAction(o.name, o.enabled ? 'stop' : 'start');
        const remove = el('button', { className: 'danger' }, 'Remove');
        remove.onclick = () => removeOutput(kind, o.name);
        const row = el('tr', {}, el('td', {}, o.name), el('td', {}, kind), el('td', {}, target), el('td', {}, o.rung),
          el('td', { className: `state-${s ? s.state : 'idle'}` }, s ? s.state : (o.enabled ? 'starting' : 'disabled')),
          el('td', {}, el('div', { className: 'buttons' }, toggle, remove)));
        row.dataset.name = o.name;
        return row;
      })))));
}

async function outputAction(name, action) {
  const res = await api('POST', `/api/v1/outputs/${encodeURIComponent(name)}/${action}`);
  document.getElementById('outputs-msg').textContent = res.ok ? '' : problem(res);
  loadOutputs();
}

async function removeOutput(kind, name) {
  if (!confirm(`Remove the destination ${name}?`)) return;
  await loadConfig();
  const list = (state.config.outputs[kind] || []).filter((o) => o.name !== name);
  const res = await patchConfig({ outputs: { [kind]: list } });
  document.getElementById('outputs-msg').textContent = res.ok ? '' : problem(res);
  loadOutputs();
}

async function addOutput(kind, form) {
  const f = Object.fromEntries(new FormData(form));
  for (const k of Object.keys(f)) if (f[k] === '') delete f[k];
  for (const k of ['port', 'latency_ms']) if (f[k] !== undefined) f[k] = Number(f[k]);
  await loadConfig();
  // Secrets already set read "***": sending that back keeps them.
  const res = await patchConfig({ outputs: { [kind]: [...(state.config.outputs[kind] || []), { enabled: true, ...f }] } });
  document.getElementById('outputs-msg').textContent = res.ok ? '' : problem(res);
  if (res.ok) form.reset();
  loadOutputs();
}

document.getElementById('sign-link').onclick = async () => {
  const hours = Number(document.getElementById('sign-hours').value) || 6;
  const res = await api('POST', '/api/v1/hls/sign', { ttl_s: Math.round(hours * 3600) });
  document.getElementById('signed-url').value = res.ok ? `${location.origin}${res.data.url}` : problem(res);
};

document.getElementById('rtmp-form').onsubmit = (e) => { e.preventDefault(); addOutput('rtmp', e.target); };
document.getElementById('srt-form').onsubmit = (e) => { e.preventDefault(); addOutput('srt', e.target); };

// ---- Recordings -----------------------------------------------------------------------

async function loadRecordings() {
  renderRecorder();
  const res = await api('GET', '/api/v1/recordings');
  if (!res.ok) return;
  const list = res.data.recordings || res.data;
  document.getElementById('recording-list').replaceChildren(list.length === 0 ? el('p', { className: 'small' }, 'No recordings.')
    : el('div', { className: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, ...['File', 'Started', 'Length', 'Size', 'State', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...list.map((r) => {
        const del = el('button', { className: 'danger' }, 'Delete');
        del.onclick = async () => {
          if (!confirm(`Delete ${r.file}?`)) return;
          const d = await api('DELETE', `/api/v1/recordings/${r.id}`);
          document.getElementById('rec-msg').textContent = d.ok ? '' : problem(d);
          loadRecordings();
        };
        return el('tr', {}, el('td', {}, el('a', { href: `/api/v1/recordings/${r.id}/file`, download: '' }, r.file.split('/').pop())),
          el('td', {}, new Date(r.start_ms).toLocaleString()), el('td', {}, fmtDuration(r.duration_s)), el('td', {}, fmtBytes(r.bytes)),
          el('td', {}, r.state), el('td', {}, r.state === 'recording' ? '' : del));
      })))));
}

function renderRecorder() {
  const r = state.status && state.status.recording;
  document.getElementById('recorder').replaceChildren(r
    ? el('p', {}, el('span', { className: `state-${r.state}` }, r.state), ` · ${r.file ? r.file.split('/').pop() : '–'} · `,
      `${fmtDuration(r.file_duration_s)} · ${fmtBytes(r.file_bytes)} · ${fmtBytes(r.free_bytes)} free`, r.last_error ? ` · ${r.last_error}` : '')
    : el('p', { className: 'small' }, 'Not recording since the box started.'));
}

for (const [id, path] of [['rec-start', '/api/v1/recording/start'], ['rec-stop', '/api/v1/recording/stop']]) {
  document.getElementById(id).onclick = async () => {
    const res = await api('POST', path);
    document.getElementById('rec-msg').textContent = res.ok ? '' : problem(res);
    setTimeout(loadRecordings, 1200);
  };
}

// ---- Device ---------------------------------------------------------------------------

// The link to the fleet manager, as GET /api/v1/device reports it.
function fleetFacts(f) {
  if (!f || !f.enabled) return [['Fleet', 'off ([fleet] in the config)']];
  const when = f.last_connected_ms ? new Date(f.last_connected_ms).toLocaleString() : 'never';
  const facts = [['Broker', f.broker], ['State', f.state], ['Last connected', when], ['Device id', f.device_id || '…'],
    ['Tenant', f.tenant], ['Tags', f.tags.join(', ') || 'none'], ['Queued events', f.queued], ['Dropped events', f.dropped],
    ['Published', f.published], ['Reconnects', f.reconnects]];
  if (f.last_error) facts.push(['Last error', f.last_error]);
  if (f.denied.length) facts.push(['Refused by the broker', f.denied.join('; ')]);
  return facts;
}

// ---- Firmware updates (GET /api/v1/ota) -----------------------------------------------

const phaseWords = {
  queued: 'queued', downloading: 'downloading', verifying: 'checking the signature', installing: 'installing into the other slot',
  rebooting: 'installed, waiting to reboot', checking_health: 'checking health on the new firmware', succeeded: 'succeeded',
  failed: 'failed', rolled_back: 'rolled back',
};

function otaFacts(o) {
  if (!o.enabled) return [['Updates', 'off (this box was started without --rauc-bus)']];
  const facts = [['Firmware', o.firmware_version || 'unknown'], ['Compatible', o.compatible || '…'], ['Booted slot', o.booted_slot || '…']];
  if (o.problem) facts.push(['Problem', o.problem]);
  const j = o.job;
  if (j) {
    let what = phaseWords[j.phase] || j.phase;
    if (j.phase === 'downloading' && j.total_bytes) what += ` ${Math.floor((100 * j.done_bytes) / j.total_bytes)} %`;
    if (j.phase === 'installing') what += ` ${j.percent} %`;
    facts.push(['Update', `${j.to_version ? `${j.from_version} → ${j.to_version}` : `from ${j.from_version}`}: ${what}`]);
    if (j.reason) facts.push(['Why', j.reason]);
  }
  if (o.waiting) facts.push(['Waiting', o.waiting.why + (o.waiting.retry_at_ms ? ` (until ${new Date(o.waiting.retry_at_ms).toLocaleString()})` : '')]);
  if (o.postponed_until_ms) facts.push(['Postponed until', new Date(o.postponed_until_ms).toLocaleString()]);
  return facts;
}

let otaTimer = null;

async function loadOta() {
  clearTimeout(otaTimer);
  let res;
  try {
    res = await api('GET', '/api/v1/ota');
  } catch {
    return; // the box is away (rebooting); waitForBox brings the page back
  }
  if (!res.ok) return;
  const o = res.data;
  // While a job runs, look again every 2 s (a wait's reason changes without an event).
  const active = o.job && !['succeeded', 'failed', 'rolled_back'].includes(o.job.phase);
  if (active && !document.getElementById('device').hidden) otaTimer = setTimeout(loadOta, 2000);
  document.getElementById('ota-info').replaceChildren(...otaFacts(o).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]));
  document.getElementById('ota-slots').replaceChildren(o.slots.length ? el('div', { className: 'scroll' }, el('table', {},
    el('thead', {}, el('tr', {}, ...['Slot', 'Boot name', 'State', 'Boot status', 'Version'].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...o.slots.map((s) => el('tr', {}, el('td', {}, s.name), el('td', {}, s.bootname), el('td', {}, s.state),
      el('td', {}, el('span', { className: s.boot_status === 'good' ? 'state-live' : 'state-failed' }, s.boot_status)), el('td', {}, s.version || '–')))))) : '');
  const j = o.job;
  const bar = document.getElementById('ota-job-progress');
  const running = j && ['downloading', 'installing'].includes(j.phase);
  bar.hidden = !running;
  if (running) bar.value = j.phase === 'installing' ? j.percent : (j.total_bytes ? (100 * j.done_bytes) / j.total_bytes : 0);
  const waiting = j && j.phase === 'rebooting';
  document.getElementById('ota-postpone').hidden = !waiting;
  document.getElementById('ota-force').hidden = !waiting;
  document.getElementById('ota-upload').hidden = !o.enabled || (j && !['succeeded', 'failed', 'rolled_back'].includes(j.phase));
}

// The upload goes with XMLHttpRequest: fetch() reports no upload progress.
document.getElementById('ota-file').onchange = (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const bar = document.getElementById('ota-progress');
  const msg = document.getElementById('ota-msg');
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/v1/ota/bundle');
  xhr.setRequestHeader('X-CSRF-Token', state.csrf || '');
  xhr.setRequestHeader('Content-Type', 'application/octet-stream');
  bar.hidden = false;
  bar.value = 0;
  msg.textContent = `Uploading ${file.name}…`;
  xhr.upload.onprogress = (p) => { if (p.lengthComputable) bar.value = (100 * p.loaded) / p.total; };
  xhr.onloadend = () => {
    bar.hidden = true;
    e.target.value = '';
    let data = null;
    try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    const ok = xhr.status >= 200 && xhr.status < 300;
    msg.textContent = ok ? 'Uploaded: the box checks and installs it; it reboots when no show is live.' : `Not taken: ${problem({ status: xhr.status, data })}`;
    loadOta();
  };
  xhr.send(file);
};

document.getElementById('ota-postpone').onclick = async () => {
  const res = await api('POST', '/api/v1/ota/postpone', { minutes: 60 });
  document.getElementById('ota-msg').textContent = res.ok ? 'The reboot waits an hour.' : problem(res);
  loadOta();
};

document.getElementById('ota-force').onclick = async () => {
  if (!confirm('Reboot into the new firmware now? Streams and recordings stop until it is back.')) return;
  const res = await api('POST', '/api/v1/ota/force');
  if (res.ok) waitForBox('Rebooting into the new firmware…'); else document.getElementById('ota-msg').textContent = problem(res);
};

let panelTimer = null;

/** The front panel: its screen, lamps and tallies, again every second while the page shows. */
async function loadPanel() {
  clearTimeout(panelTimer);
  if (document.getElementById('device').hidden) return;
  panelTimer = setTimeout(loadPanel, 1000);
  let res;
  try { res = await api('GET', '/api/v1/panel'); } catch { return; }
  if (!res.ok) return;
  const p = res.data;
  const lamp = (text, colour) => el('span', { className: `lamp${colour ? ` on-${colour}` : ''}` }, text);
  document.getElementById('panel-lamps').replaceChildren(lamp('LIVE', p.lamps.live && 'red'),
    lamp('REC', p.lamps.rec && 'red'), lamp('ERROR', p.lamps.error && 'amber'),
    p.fan_pct === null ? '' : el('span', {}, `fan ${p.fan_pct}%`));
  document.getElementById('panel-tally').replaceChildren(...p.tally.map((t) =>
    lamp(t.input, t.tally === 'program' ? 'red' : t.tally === 'preview' ? 'green' : null)));
  const next = new Image();
  const img = document.getElementById('panel-screen');
  next.onload = () => { img.src = next.src; };
  next.src = `/api/v1/panel/screen.png?t=${Date.now()}`;
  const broken = p.parts.filter((x) => !x.ok).map((x) => `${x.part} (${x.at}): ${x.error}`);
  const last = p.last_press ? `Last press: ${p.last_press.button}${p.last_press.action ? ` → ${p.last_press.action} (${p.last_press.status})` : ''}. ` : '';
  document.getElementById('panel-msg').textContent = `${last}Cut takes ${p.preview || 'nothing (no scenes)'}.${broken.length ? ` Not working: ${broken.join('; ')}` : ''}`;
}

for (const b of document.querySelectorAll('#panel-buttons button')) {
  b.onclick = async () => {
    const res = await api('POST', `/api/v1/panel/buttons/${b.dataset.button}`);
    if (!res.ok) document.getElementById('panel-msg').textContent = problem(res);
    setTimeout(loadPanel, 300);
  };
}

async function loadDevice() {
  loadOta();
  loadPanel();
  const [info, log, history] = await Promise.all([api('GET', '/api/v1/device'), api('GET', '/api/v1/device/log?lines=200'),
    api('GET', '/api/v1/config/history')]);
  if (info.ok) {
    const d = info.data;
    const facts = [['Version', d.version], ['Board', d.board], ['Host', d.hostname], ['Kernel', d.kernel], ['CPUs', d.cpus],
      ['Up', fmtDuration(d.uptime_s)], ['Config revision', d.config_revision], ['Data', `${d.data_dir} (${d.data_free_mb} MiB free)`],
      ['Reboot', d.reboot], ['HTTPS', d.https ? `${d.https.address} · certificate SHA-256 ${d.https.fingerprint}` : 'off (http.https_listen)']];
    document.getElementById('device-info').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]));
    document.getElementById('fleet-info').replaceChildren(...fleetFacts(d.fleet).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]));
  }
  if (log.ok) {
    const pre = document.getElementById('log');
    pre.textContent = log.data.join('\n');
    pre.scrollTop = pre.scrollHeight;
  }
  if (history.ok) {
    document.getElementById('history').replaceChildren(el('div', { className: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, ...['Revision', 'When', 'From', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...history.data.slice().reverse().slice(0, 20).map((r) => {
        const back = el('button', { className: 'quiet' }, 'Roll back to this');
        back.onclick = async () => {
          await loadConfig();
          const res = await api('POST', '/api/v1/config/rollback', { base_revision: state.revision, revision: r.id });
          document.getElementById('config-msg').textContent = res.ok ? `Now running revision ${res.data.revision} (a copy of ${r.id}).` : problem(res);
          loadDevice();
        };
        return el('tr', {}, el('td', {}, String(r.id)), el('td', {}, new Date(r.created_ms).toLocaleString()), el('td', {}, r.source),
          el('td', {}, r.current ? 'running' : back));
      })))));
  }
}

document.getElementById('import').onchange = async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const bar = document.getElementById('import-progress');
  const msg = document.getElementById('config-msg');
  bar.hidden = false;
  bar.removeAttribute('value');
  msg.textContent = `Checking and applying ${file.name}…`;
  await loadConfig();
  const res = await api('PUT', '/api/v1/config', { base_revision: state.revision, toml: await file.text() });
  bar.hidden = true;
  e.target.value = '';
  msg.textContent = res.ok ? `Imported: running revision ${res.data.revision}.` : `Not imported, nothing changed: ${problem(res)}`;
  loadDevice();
};

/** Waits for the box to answer again after a reboot or reset, then reloads the page. */
async function waitForBox(text) {
  stopLive();
  clearTimeout(otaTimer);
  const bar = document.getElementById('reboot-progress');
  bar.hidden = false;
  bar.removeAttribute('value');
  document.getElementById('device-msg').textContent = text;
  await new Promise((r) => setTimeout(r, 1500));
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch('/api/v1/setup')).ok) { location.reload(); return; }
    } catch { /* still down */ }
    await new Promise((r) => setTimeout(r, 1000));
  }
  document.getElementById('device-msg').textContent = 'The box did not come back within 2 minutes.';
}

document.getElementById('reboot').onclick = async () => {
  if (!confirm('Reboot the box? Streams and recordings stop until it is back.')) return;
  const res = await api('POST', '/api/v1/device/reboot');
  if (res.ok) waitForBox('Rebooting…'); else document.getElementById('device-msg').textContent = problem(res);
};

document.getElementById('reset-form').onsubmit = async (e) => {
  e.preventDefault();
  const res = await api('POST', '/api/v1/device/factory-reset', { confirm: document.getElementById('reset-confirm').value });
  if (res.ok) waitForBox('Resetting…'); else document.getElementById('device-msg').textContent = problem(res);
};

document.getElementById('logout').onclick = async () => {
  stopLive();
  await api('POST', '/api/v1/logout');
  state.csrf = null;
  showAccess();
};

window.addEventListener('hashchange', route);
start();
