// Application entry: the shell (sidebar, breadcrumb, main area), routes and
// session handling.
import { h, clear, announce, toast, clearToasts } from './dom.js';
import { auth, getSession, currentUser, logout, startSessionKeeper } from './api.js';
import { route, match, navigate, render, start } from './router.js';
import { loginPage, changePasswordPage } from './pages/login.js';
import { projectsPage, projectPage } from './pages/projects.js';
import { documentPage, reportsPage } from './pages/document.js';
import { searchPage } from './pages/search.js';
import { playbookPage } from './pages/playbook.js';
import { usersPage, membershipsPage, settingsPage, aiPage, auditPage } from './pages/admin.js';

const app = document.getElementById('app');
let shell = null;
let signOutMessage = '';
let firstRender = true;

route('/login', loginPage, { public: true, bare: true });
route('/change-password', changePasswordPage, { bare: true, allowPasswordChange: true });
route('/', () => navigate('/projects', { replace: true }));
route('/projects', projectsPage, { nav: 'projects' });
route('/projects/:id', projectPage, { nav: 'projects' });
route('/projects/:id/members', projectPage, { nav: 'projects', tab: 'members' });
route('/projects/:id/dashboard', projectPage, { nav: 'projects', tab: 'dashboard' });
route('/projects/:id/playbook', projectPage, { nav: 'projects', tab: 'playbook' });
route('/playbook', playbookPage, { nav: 'playbook' });
route('/search', searchPage, { nav: 'search' });
route('/documents/:id', documentPage, { nav: 'projects' });
route('/documents/:id/reports', reportsPage, { nav: 'projects' });
route('/admin', () => navigate('/admin/users', { replace: true }), { admin: true });
route('/admin/users', usersPage, { admin: true, nav: 'users' });
route('/admin/memberships', membershipsPage, { admin: true, nav: 'memberships' });
route('/admin/settings', settingsPage, { admin: true, nav: 'settings' });
route('/admin/ai', aiPage, { admin: true, nav: 'ai' });
route('/admin/audit', auditPage, { admin: true, nav: 'audit' });

const NAV = [
  { key: 'projects', href: '/projects', label: 'Projects', icon: 'folder' },
  { key: 'search', href: '/search', label: 'Search', icon: 'search' },
  { key: 'playbook', href: '/playbook', label: 'Playbook', icon: 'list' },
];
const ADMIN_NAV = [
  { key: 'users', href: '/admin/users', label: 'Users', icon: 'users' },
  { key: 'memberships', href: '/admin/memberships', label: 'Project access', icon: 'key' },
  { key: 'settings', href: '/admin/settings', label: 'Uploads', icon: 'upload' },
  { key: 'ai', href: '/admin/ai', label: 'AI providers', icon: 'spark' },
  { key: 'audit', href: '/admin/audit', label: 'Audit log', icon: 'list' },
];

function icon(name) {
  return h('span', { class: `icon icon-${name}`, 'aria-hidden': 'true' });
}

function initials(user) {
  const src = (user.name || user.email || '?').trim();
  const parts = src.split(/[\s@.]+/).filter(Boolean);
  return ((parts[0] || '?')[0] + (parts[1] ? parts[1][0] : '')).toUpperCase();
}

function buildShell(user) {
  const navList = (items) => h('ul', { class: 'nav-list' }, items.map((it) => h('li',
    h('a', { href: it.href, class: 'nav-link', dataset: { nav: it.key } }, icon(it.icon), h('span', it.label)))));
  const menuBtn = h('button', {
    type: 'button', class: 'icon-btn menu-btn', 'aria-label': 'Open navigation', 'aria-expanded': 'false',
    'aria-controls': 'sidebar',
  }, h('span', { class: 'hamburger', 'aria-hidden': 'true' }));
  const sidebar = h('aside', { class: 'sidebar', id: 'sidebar' },
    h('a', { href: '/projects', class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
      h('span', { class: 'brand-name' }, 'Contract Lucidity')),
    h('nav', { 'aria-label': 'Main', class: 'nav' },
      navList(NAV),
      user.role === 'admin' ? [h('p', { class: 'nav-section', id: 'nav-admin' }, 'Administration'), navList(ADMIN_NAV)] : null),
    h('div', { class: 'sidebar-user' },
      h('div', { class: 'avatar', 'aria-hidden': 'true' }, initials(user)),
      h('div', { class: 'who' },
        h('p', { class: 'who-name', 'data-testid': 'current-user' }, user.name || user.email),
        h('p', { class: 'who-email' }, user.email)),
      h('div', { class: 'sidebar-actions' },
        h('a', { href: '/change-password', class: 'link-quiet' }, 'Change password'),
        h('button', { type: 'button', class: 'link-quiet', id: 'sign-out', onclick: () => logout() }, 'Sign out'))));
  const crumbs = h('nav', { 'aria-label': 'Breadcrumb', class: 'breadcrumb' }, h('ol'));
  const main = h('main', { id: 'main', tabindex: '-1', class: 'main' });
  const scrim = h('div', { class: 'scrim', hidden: true });
  const toggle = (open) => {
    sidebar.classList.toggle('open', open);
    scrim.hidden = !open;
    menuBtn.setAttribute('aria-expanded', String(open));
  };
  menuBtn.addEventListener('click', () => toggle(!sidebar.classList.contains('open')));
  scrim.addEventListener('click', () => toggle(false));
  sidebar.addEventListener('keydown', (e) => { if (e.key === 'Escape') { toggle(false); menuBtn.focus(); } });
  sidebar.addEventListener('click', (e) => { if (e.target.closest('a')) toggle(false); });
  const root = h('div', { class: 'shell' }, sidebar, scrim,
    h('div', { class: 'content' }, h('header', { class: 'topbar' }, menuBtn, crumbs), main));
  return { root, main, crumbs: crumbs.firstChild, userId: user.id, role: user.role };
}

function setActiveNav(key) {
  for (const a of shell.root.querySelectorAll('.nav-link')) {
    if (a.dataset.nav === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function setPage(title, crumbs = []) {
  document.title = `${title} · Contract Lucidity`;
  if (!shell) return;
  clear(shell.crumbs);
  crumbs.forEach((c, i) => {
    const last = i === crumbs.length - 1;
    shell.crumbs.append(h('li', last || !c.href ? h('span', { 'aria-current': last ? 'page' : null }, c.label)
      : h('a', { href: c.href }, c.label)));
  });
}

function notFound(ctx) {
  ctx.setPage('Not found', [{ label: 'Not found' }]);
  ctx.main.append(h('div', { class: 'empty' },
    h('h1', { class: 'page-title', tabindex: '-1' }, 'Page not found'),
    h('p', 'The page you asked for does not exist.'),
    h('a', { href: '/projects', class: 'btn btn-primary' }, 'Go to projects')));
}

async function renderRoute(url, signal, { user: byReader } = {}) {
  clearToasts(byReader);
  const m = match(url.pathname);
  const session = getSession();
  const user = currentUser();
  if (!m || !m.opts.public) {
    if (!session || !user) {
      const next = url.pathname === '/' || url.pathname === '/login' ? '' : `?next=${encodeURIComponent(url.pathname + url.search)}`;
      navigate(`/login${next}`, { replace: true });
      return;
    }
    if (user.must_change_password && !(m && m.opts.allowPasswordChange)) {
      navigate('/change-password', { replace: true });
      return;
    }
  }
  if (m && m.opts.admin && user && user.role !== 'admin') {
    navigate('/projects', { replace: true });
    return;
  }
  if (session) startSessionKeeper();

  const ctx = {
    params: m ? m.params : {}, query: url.searchParams, signal, user, tab: m && m.opts.tab,
    setPage, main: null, flash: signOutMessage,
  };
  signOutMessage = '';
  app.className = '';
  if (!m || !m.opts.bare) {
    if (!shell || shell.userId !== user.id || shell.role !== user.role) {
      shell = buildShell(user);
      clear(app).append(shell.root);
    }
    setActiveNav(m && m.opts.nav);
    clear(shell.main);
    ctx.main = shell.main;
  } else {
    shell = null;
    ctx.main = clear(app);
  }
  try {
    await (m ? m.page(ctx) : notFound(ctx));
  } catch (e) {
    if (e.name === 'AbortError') return;
    console.error(e);
    ctx.main.append(h('div', { class: 'panel error-panel', role: 'alert' },
      h('p', 'This page could not be shown. Please reload and try again.')));
  }
  if (signal.aborted) return;
  if (!firstRender) {
    const target = ctx.main.querySelector('h1') || ctx.main;
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus({ preventScroll: false });
    announce(document.title.replace(' · Contract Lucidity', ''));
  }
  firstRender = false;
}

auth.addEventListener('logout', (e) => {
  signOutMessage = (e.detail && e.detail.message) || '';
  shell = null;
  for (const d of document.querySelectorAll('dialog')) d.remove();
  navigate('/login', { replace: true });
});
auth.addEventListener('password-change-required', () => navigate('/change-password', { replace: true }));
auth.addEventListener('change', () => {
  const u = currentUser();
  if (shell && u && (u.role !== shell.role || u.id !== shell.userId)) render();
});
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason && e.reason.name === 'AbortError') { e.preventDefault(); return; }
  if (e.reason && e.reason.status === 401) { e.preventDefault(); return; }
  toast('Something went wrong. Please try again.', 'error');
});

start(renderRoute);
