// The timesheet front end: plain JavaScript on trylite's user-application protocol.
//
// 1. POST /<db>/user/application/ {"user", "application": "timesheet"} gives a key, pending;
// 2. the person validates it in /<db>/preferences/ while this page polls a guarded route
//    (401 until then);
// 3. the page then calls /<db>/timesheet/... with "Authorization: Bearer <key>";
// 4. "Revoke key" DELETEs the key and forgets it.
// The key is kept in localStorage only, and never logged.
'use strict';

const APPLICATION = 'timesheet';
const STORAGE = 'trylite.timesheet';
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
let state = load();  // {database, login, key?, validated?}
let works = [];
let lines = [];
let editing = null;  // the line being edited
let pollTimer = null;

// -- storage -------------------------------------------------------------------------------
function load() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE)) || {};
  } catch {
    return {};
  }
}

function save() {
  localStorage.setItem(STORAGE, JSON.stringify(state));
}

function forgetKey() {
  state = {database: state.database, login: state.login};
  save();
}

function publicId(key) {
  return key.split('_')[1] || '';
}

// -- HTTP ----------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && (body.description || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.field = body && body.field;
    this.retryAfter = Number(retryAfter) || 0;
  }
}

async function call(method, url, body, key) {
  const headers = {Accept: 'application/json'};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, {message: 'Cannot reach the server. Is it running?'});
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get('Retry-After'));
  return data;
}

const dbUrl = (path) => `/${encodeURIComponent(state.database)}/${path}`;
const api = (method, path, body) => call(method, dbUrl(`timesheet/${path}`), body, state.key);

// -- views ---------------------------------------------------------------------------------
function show(view) {
  for (const name of ['connect', 'pending', 'app']) $(`view-${name}`).hidden = name !== view;
  $('who').hidden = view !== 'app';
  if (view !== 'pending') clearTimeout(pollTimer);
}

function notice(text) {
  $('notice').textContent = text || '';
  $('notice').hidden = !text;
}

let toastTimer = null;
function toast(text) {
  $('toast').textContent = text;
  $('toast').hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { $('toast').hidden = true; }, 3000);
}

function showError(element, error) {
  element.textContent = error ? error.message : '';
  element.hidden = !error;
}

function showConnect(message) {
  show('connect');
  notice(message);
  $('database').value = state.database || new URLSearchParams(location.search).get('database') || '';
  $('login').value = state.login || new URLSearchParams(location.search).get('login') || '';
  ($('database').value ? $('login') : $('database')).focus();
}

function showPending() {
  show('pending');
  notice('');
  $('pending-login').textContent = `${state.login} (database ${state.database})`;
  $('public-id').textContent = publicId(state.key);
  $('preferences-link').href = dbUrl('preferences/');
  $('pending-status').textContent = 'Waiting for validation…';
  poll();
}

async function showApp() {
  show('app');
  notice('');
  $('who-text').textContent = `${state.login} · ${state.database}`;
  fillWorks();
  resetForm();
  await refresh();
}

// What to do with an error of a guarded call: a key that stopped working means starting over.
function handle(error, element) {
  if (error.status === 401) {
    forgetKey();
    showConnect('This key no longer works (revoked, cancelled or expired). Ask for a new one.');
  } else if (error.status === 429) {
    showError(element, new Error(`Too many attempts; try again in ${error.retryAfter || 60} s.`));
  } else {
    showError(element, error);
  }
}

// -- 1. asking for a key -------------------------------------------------------------------
$('connect-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const database = $('database').value.trim();
  const login = $('login').value.trim();
  if (!database || !login) {
    showError($('connect-error'), new Error('Enter the database and your login.'));
    (database ? $('login') : $('database')).focus();
    return;
  }
  $('connect').disabled = true;
  try {
    state = {database, login};
    const key = await call('POST', dbUrl('user/application/'), {user: login, application: APPLICATION});
    state.key = key;
    save();
    showError($('connect-error'), null);
    showPending();
  } catch (error) {
    if (error.status === 404) error.message = `There is no database named “${database}”.`;
    showError($('connect-error'), error);
  } finally {
    $('connect').disabled = false;
  }
});

// -- 2. waiting for the person to validate it ----------------------------------------------
async function poll() {
  clearTimeout(pollTimer);
  if ($('view-pending').hidden || !state.key) return;
  let delay = POLL_MS;
  try {
    works = await api('GET', 'works');
    state.validated = true;
    save();
    toast('Key validated: you can record your time.');
    await showApp();
    return;
  } catch (error) {
    if (error.status === 429) {
      delay = Math.max(POLL_MS, error.retryAfter * 1000);
      $('pending-status').textContent = 'Waiting for validation… (slowing down)';
    } else if (error.status === 404) {
      forgetKey();
      showConnect(`There is no database named “${state.database}” any more.`);
      return;
    } else if (error.status !== 401) {
      $('pending-status').textContent = `Waiting for validation… (${error.message})`;
    }
  }
  pollTimer = setTimeout(poll, delay);
}

// Check at once when the person comes back from the preferences tab.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && !$('view-pending').hidden) poll();
});
window.addEventListener('focus', () => {
  if (!$('view-pending').hidden) poll();
});

async function revoke() {
  if (state.key) {
    try {
      await call('DELETE', dbUrl('user/application/'),
        {user: state.login, key: state.key, application: APPLICATION});
    } catch {
      // Already gone (404) or unreachable: the page forgets it all the same.
    }
  }
  forgetKey();
}

$('start-over').addEventListener('click', async () => {
  await revoke();
  showConnect('');
});

$('revoke').addEventListener('click', async () => {
  $('revoke').disabled = true;
  await revoke();
  $('revoke').disabled = false;
  showConnect('Key revoked. Ask for a new one to record time again.');
});

// -- 3. the timesheet ----------------------------------------------------------------------
const pad = (n) => String(n).padStart(2, '0');
const isoDate = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const parseIso = (s) => { const [y, m, d] = s.split('-').map(Number); return new Date(y, m - 1, d); };
const addDays = (d, n) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
const monday = (d) => addDays(d, -((d.getDay() + 6) % 7));
const formatDuration = (minutes) => `${Math.floor(minutes / 60)}:${pad(minutes % 60)}`;
const formatDay = (s) => parseIso(s).toLocaleDateString(undefined,
  {weekday: 'short', day: 'numeric', month: 'short', year: 'numeric'});

// Minutes from "1:30", "1h30", "1.5", "1,5h" or "90m"; NaN when it is none of those.
function parseDuration(text) {
  const value = text.trim().toLowerCase().replace(',', '.');
  let m;
  if ((m = value.match(/^(\d{1,2}):([0-5]\d)$/))) return Number(m[1]) * 60 + Number(m[2]);
  if ((m = value.match(/^(\d{1,2})\s*h\s*(\d{1,2})\s*(m|min)?$/))) return Number(m[1]) * 60 + Number(m[2]);
  if ((m = value.match(/^(\d+)\s*(m|min)$/))) return Number(m[1]);
  if ((m = value.match(/^(\d+(\.\d+)?)\s*h?$/))) return Math.round(Number(m[1]) * 60);
  return NaN;
}

function setRange(start, end) {
  $('from').value = isoDate(start);
  $('to').value = isoDate(end);
}

function thisWeek() {
  const start = monday(new Date());
  setRange(start, addDays(start, 6));
}

function shiftRange(days) {
  const start = $('from').value ? parseIso($('from').value) : monday(new Date());
  const end = $('to').value ? parseIso($('to').value) : addDays(start, 6);
  setRange(addDays(start, days), addDays(end, days));
  refresh();
}

function fillWorks() {
  const select = $('work');
  const chosen = select.value;
  select.replaceChildren(...works.map((work) => new Option(work.name, work.id)));
  if (!works.length) select.append(new Option('No active work to book on', ''));
  if (chosen) select.value = chosen;
}

function resetForm() {
  editing = null;
  $('form-title').textContent = 'Log time';
  $('save').textContent = 'Add line';
  $('cancel-edit').hidden = true;
  if (!$('date').value) $('date').value = isoDate(new Date());
  $('duration').value = '';
  $('description').value = '';
  showError($('line-error'), null);
  markInvalid(null);
}

function markInvalid(field) {
  for (const name of ['work', 'date', 'duration', 'description']) {
    $(name).toggleAttribute('aria-invalid', name === field);
  }
  if (field && $(field)) $(field).focus();
}

async function refresh() {
  if (!$('from').value && !$('to').value) thisWeek();
  const query = new URLSearchParams();
  if ($('from').value) query.set('from', $('from').value);
  if ($('to').value) query.set('to', $('to').value);
  try {
    lines = await api('GET', `lines?${query}`);
    renderLines();
  } catch (error) {
    handle(error, $('line-error'));
  }
}

function button(text, className, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = text;
  element.addEventListener('click', onClick);
  return element;
}

function renderLines() {
  const container = $('lines');
  const days = new Map();
  for (const line of lines) {
    if (!days.has(line.date)) days.set(line.date, []);
    days.get(line.date).push(line);
  }
  const groups = [];
  for (const [date, items] of days) {
    const group = document.createElement('div');
    group.className = 'day';
    const head = document.createElement('div');
    head.className = 'day-head';
    const title = document.createElement('span');
    title.textContent = formatDay(date);
    const sum = document.createElement('span');
    sum.textContent = formatDuration(items.reduce((total, line) => total + line.duration, 0));
    head.append(title, sum);
    group.append(head);
    for (const line of items) group.append(renderLine(line));
    groups.push(group);
  }
  container.replaceChildren(...groups);
  $('empty').hidden = lines.length > 0;
  $('total').textContent = formatDuration(lines.reduce((total, line) => total + line.duration, 0));
}

function renderLine(line) {
  const row = document.createElement('div');
  row.className = 'line';
  row.dataset.id = line.id;
  if (editing && editing.id === line.id) row.classList.add('editing');
  const text = document.createElement('div');
  text.className = 'line-text';
  const work = document.createElement('strong');
  work.textContent = line.work_name;
  const description = document.createElement('span');
  description.className = 'muted';
  description.textContent = line.description;
  text.append(work, description);
  const duration = document.createElement('span');
  duration.className = 'duration';
  duration.textContent = formatDuration(line.duration);
  const actions = document.createElement('div');
  actions.className = 'line-actions';
  actions.append(
    button('Edit', 'ghost small edit', () => edit(line)),
    button('Delete', 'ghost small danger delete', (event) => remove(line, event.currentTarget)));
  row.append(text, duration, actions);
  return row;
}

function edit(line) {
  editing = line;
  $('form-title').textContent = 'Edit line';
  $('save').textContent = 'Save changes';
  $('cancel-edit').hidden = false;
  if (![...$('work').options].some((option) => option.value === String(line.work))) {
    $('work').append(new Option(`${line.work_name} (inactive)`, line.work));
  }
  $('work').value = line.work;
  $('date').value = line.date;
  $('duration').value = formatDuration(line.duration);
  $('description').value = line.description;
  renderLines();
  $('line-form').scrollIntoView({behavior: 'smooth', block: 'start'});
  $('duration').focus();
}

// Delete in two clicks: the first one asks to confirm for a few seconds.
async function remove(line, element) {
  if (!element.classList.contains('confirm')) {
    element.classList.add('confirm');
    element.textContent = 'Confirm';
    setTimeout(() => { element.classList.remove('confirm'); element.textContent = 'Delete'; }, 3000);
    return;
  }
  try {
    await api('DELETE', `lines/${line.id}`);
    if (editing && editing.id === line.id) resetForm();
    toast('Line deleted.');
    await refresh();
  } catch (error) {
    handle(error, $('line-error'));
  }
}

$('line-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const minutes = parseDuration($('duration').value);
  if (!(minutes > 0)) {
    showError($('line-error'), new Error('Enter a duration such as 1:30, 1.5 or 45m.'));
    markInvalid('duration');
    return;
  }
  const body = {
    work: Number($('work').value),
    date: $('date').value,
    duration: minutes,
    description: $('description').value.trim() || null,
  };
  $('save').disabled = true;
  try {
    const saved = editing
      ? await api('PUT', `lines/${editing.id}`, body)
      : await api('POST', 'lines', body);
    toast(`${editing ? 'Saved' : 'Added'} ${formatDuration(saved.duration)} on ${saved.work_name}.`);
    if (saved.date < $('from').value || saved.date > $('to').value) {
      const start = monday(parseIso(saved.date));
      setRange(start, addDays(start, 6));
    }
    resetForm();
    await refresh();
  } catch (error) {
    handle(error, $('line-error'));
    markInvalid(error.field);
  } finally {
    $('save').disabled = false;
  }
});

// Typing in the field at fault clears its error.
$('line-form').addEventListener('input', (event) => {
  if (event.target.hasAttribute('aria-invalid')) {
    event.target.removeAttribute('aria-invalid');
    showError($('line-error'), null);
  }
});
$('cancel-edit').addEventListener('click', () => { resetForm(); renderLines(); });
$('prev').addEventListener('click', () => shiftRange(-7));
$('next').addEventListener('click', () => shiftRange(7));
$('this-week').addEventListener('click', () => { thisWeek(); refresh(); });
$('from').addEventListener('change', refresh);
$('to').addEventListener('change', refresh);

// -- start ---------------------------------------------------------------------------------
async function start() {
  if (!state.key || !state.database) {
    showConnect('');
    return;
  }
  try {
    works = await api('GET', 'works');
    await showApp();
  } catch (error) {
    if (error.status === 401 && state.validated) {
      forgetKey();
      showConnect('This key no longer works (revoked, cancelled or expired). Ask for a new one.');
    } else if (error.status === 401 || error.status === 429) {
      showPending();
    } else {
      showConnect(error.message);
    }
  }
}

start();
