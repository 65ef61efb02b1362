// The console's shell: router (History API), layout (navigation, CA selector, user menu) and
// the session. Pages are modules in js/pages/ exporting render(ctx) that fill ctx.main.
import { get, del, haveSession, setUnauthenticatedHandler } from './api.js';
import { h, clear, toast } from './ui.js';
import { FEATURES } from './features.js';

const ROUTES = [
  // public pages (no session)
  { path: /^\/login$/, page: 'login', public: true },
  { path: /^\/setup$/, page: 'setup', public: true },
  { path: /^\/request\/(\d+)$/, page: 'public_request', public: true, bare: true },
  { path: /^\/claim$/, page: 'claim', public: true, bare: true },
  // console pages
  { path: /^\/$/, page: 'home' },
  { path: /^\/cas\/new$/, page: 'ca_new', nav: 'ca-new', feature: 'cas' },
  { path: /^\/cas\/import$/, page: 'ca_import', nav: 'ca-import', feature: 'cas' },
  { path: /^\/cas$/, page: 'cas', nav: 'cas', feature: 'cas' },
  { path: /^\/cas\/(\d+)$/, page: 'ca', nav: 'cas', feature: 'cas' },
  { path: /^\/templates\/new$/, page: 'template_new', nav: 'tpl-new', needsCa: true, feature: 'templates' },
  { path: /^\/templates$/, page: 'templates', nav: 'tpl', needsCa: true, feature: 'templates' },
  { path: /^\/templates\/(\d+)$/, page: 'template', nav: 'tpl', needsCa: true, feature: 'templates' },
  { path: /^\/requests$/, page: 'requests', nav: 'req', needsCa: true, feature: 'requests' },
  { path: /^\/certificates$/, page: 'certificates', nav: 'certs', needsCa: true, feature: 'certificates' },
  { path: /^\/certificates\/(\d+)$/, page: 'certificate', nav: 'certs', needsCa: true, feature: 'certificates' },
  { path: /^\/acme$/, page: 'acme', nav: 'acme', needsCa: true, feature: 'acme' },
  { path: /^\/appliances$/, page: 'appliances', nav: 'appl', feature: 'appliances' },
  { path: /^\/logs$/, page: 'logs', nav: 'logs' },
  { path: /^\/account$/, page: 'account', nav: 'account' },
  { path: /^\/users$/, page: 'users', nav: 'users' },
];

const NAV = [
  { title: 'Certificate Authorities', feature: 'cas', items: [
    ['ca-new', '/cas/new', 'Create New CA'], ['ca-import', '/cas/import', 'Import Existing CA'], ['cas', '/cas', 'Manage CAs']] },
  { title: 'Certificate Templates', feature: 'templates', items: [
    ['tpl-new', '/templates/new', 'Create Template'], ['tpl', '/templates', 'Manage Templates']] },
  { title: 'X509 Certificates', feature: 'requests', items: [
    ['req', '/requests', 'Pending Requests'], ['certs', '/certificates', 'Issued Certificates']] },
  { title: 'Appliances', feature: 'appliances', items: [['appl', '/appliances', 'Appliances']] },
  { title: 'ACME', feature: 'acme', items: [['acme', '/acme', 'Policies and EAB']] },
  { title: 'Logs', items: [['logs', '/logs', 'Audit Log']] },
  { title: 'Settings', items: [['account', '/account', 'My Account'], ['users', '/users', 'Users', 'admin']] },
];

const state = {
  user: null,
  cas: [],
  caId: null,
};

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

function currentCa() {
  return state.cas.find((c) => c.id === state.caId) || null;
}

export async function refreshCas() {
  if (!FEATURES.cas) { state.cas = []; return; }
  const r = await get('/cas');
  state.cas = r.cas || [];
  const saved = Number(localStorage.getItem('pkr_ca'));
  if (!state.cas.some((c) => c.id === state.caId))
    state.caId = state.cas.some((c) => c.id === saved) ? saved : (state.cas[0] ? state.cas[0].id : null);
}

export function selectCa(id) {
  state.caId = id;
  if (id) localStorage.setItem('pkr_ca', String(id)); else localStorage.removeItem('pkr_ca');
}

async function loadSession() {
  if (!haveSession()) return false;
  try {
    const me = await get('/me', { quiet401: true });
    state.user = me.user;
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

async function logout() {
  try { await del('/session'); } catch (e) { /* the session may already be gone */ }
  state.user = null;
  navigate('/login', { replace: true });
}

function caSelector() {
  const id = 'ca-select';
  if (!FEATURES.cas) return null;
  if (!state.cas.length) {
    return h('div', { class: 'ca-select' }, h('span', {}, 'No CA yet — '),
      h('a', { href: '/cas/new', 'data-link': '' }, 'create one'));
  }
  const sel = h('select', { id, onchange: () => { selectCa(Number(sel.value)); route(); } },
    state.cas.map((c) => h('option', { value: c.id, selected: c.id === state.caId },
      `${c.name}${c.status && c.status !== 'active' ? ` (${c.status})` : ''}`)));
  return h('div', { class: 'ca-select' }, h('label', { for: id }, 'Active CA'), sel);
}

function layout(active) {
  const navId = 'main-nav';
  const toggle = h('button', { type: 'button', class: 'nav-toggle icon', 'aria-controls': navId, 'aria-expanded': 'false', 'aria-label': 'Menu' }, '☰');
  const nav = h('nav', { id: navId, class: 'nav', 'aria-label': 'Main' },
    NAV.filter((s) => !s.feature || FEATURES[s.feature]).map((s) => h('div', { class: 'nav-section' },
      h('h2', {}, s.title),
      h('ul', {}, s.items.filter((i) => i[3] !== 'admin' || (state.user && state.user.admin)).map(([key, href, label]) =>
        h('li', {}, h('a', { href, 'data-link': '', 'aria-current': key === active ? 'page' : null }, label)))))));
  toggle.addEventListener('click', () => {
    const open = nav.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  const main = h('main', { id: 'main', tabindex: '-1' });
  const shell = h('div', { class: 'shell' },
    h('header', { class: 'top' }, toggle,
      h('a', { class: 'brand', href: '/', 'data-link': '' }, 'pki-relay'),
      caSelector(),
      h('div', { class: 'user' },
        h('span', { class: 'who' }, state.user ? state.user.name : ''),
        h('button', { type: 'button', class: 'secondary', onclick: logout }, 'Log out'))),
    nav, main);
  return { shell, main };
}

function match(path) {
  for (const r of ROUTES) {
    const m = path.match(r.path);
    if (m) return { route: r, params: m.slice(1) };
  }
  return null;
}

const pageCache = {};
async function loadPage(name) {
  if (!pageCache[name]) pageCache[name] = await import(`./pages/${name}.js`);
  return pageCache[name];
}

let routing = 0;
export async function route() {
  const mine = ++routing;
  const app = document.getElementById('app');
  app.setAttribute('aria-busy', 'true');
  let path = location.pathname.replace(/^\/console(?=\/|$)/, '') || '/';
  if (path.length > 1) path = path.replace(/\/$/, '');
  const m = match(path);
  try {
    if (!m) {
      clear(app, h('main', { id: 'main', class: 'narrow' }, h('h1', {}, 'Page not found'),
        h('p', {}, h('a', { href: '/', 'data-link': '' }, 'Back to the console'))));
      return;
    }
    const { route: r, params } = m;
    if (r.public) {
      const mod = await loadPage(r.page);
      if (mine !== routing) return;
      const main = h('main', { id: 'main', class: r.bare ? 'public' : 'narrow' });
      clear(app, main);
      await mod.render({ main, params, state, navigate, refreshCas });
      return;
    }
    if (!state.user && !(await loadSession())) {
      navigate('/login?next=' + encodeURIComponent(path), { replace: true });
      return;
    }
    await refreshCas();
    if (mine !== routing) return;
    if (r.feature && !FEATURES[r.feature]) {
      const { shell, main } = layout(r.nav);
      clear(app, shell);
      clear(main, h('h1', {}, 'Not available yet'), h('p', {}, 'This part of the relay is not available in this version.'));
      return;
    }
    const { shell, main } = layout(r.nav);
    clear(app, shell);
    const ctx = { main, params, state, ca: currentCa(), navigate, refreshCas, rerender: route, selectCa };
    if (r.needsCa && !ctx.ca) {
      const noCa = await loadPage('no_ca');
      await noCa.render(ctx);
    } else {
      const mod = await loadPage(r.page);
      if (mine !== routing) return;
      await mod.render(ctx);
    }
    const h1 = main.querySelector('h1');
    if (h1 && document.activeElement === document.body) h1.focus({ preventScroll: true });
  } catch (e) {
    if (mine !== routing) return;
    clear(app, h('main', { id: 'main', class: 'narrow' }, h('h1', {}, 'Something went wrong'),
      h('p', { class: 'message error', role: 'alert' }, e.message || String(e)),
      h('p', {}, h('a', { href: '/', 'data-link': '' }, 'Back to the console'))));
  } finally {
    if (mine === routing) {
      app.removeAttribute('aria-busy');
      app.dataset.view = String(mine); // a finished view: tests wait for this to change
    }
  }
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);
setUnauthenticatedHandler((err) => {
  state.user = null;
  toast(err.message, 'error');
  navigate('/login?next=' + encodeURIComponent(location.pathname), { replace: true });
});
route();
