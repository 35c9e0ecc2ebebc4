// History-API router: real URLs (/projects/<id>), links intercepted, the
// previous page's work (polling) cancelled through an AbortSignal.

const routes = [];
let current = null;
let renderFn = null;

/** route('/projects/:id', page) registers a page function. */
export function route(pattern, page, opts = {}) {
  const keys = [];
  const re = new RegExp(`^${pattern.replace(/\/:([a-z]+)/gi, (_, k) => { keys.push(k); return '/([^/]+)'; })}/?$`);
  routes.push({ re, keys, page, opts });
}

export function match(pathname) {
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
      return { ...r, params };
    }
  }
  return null;
}

/** navigate(path): show another page; user marks a change the reader made (a link). */
export function navigate(path, { replace = false, user = false } = {}) {
  if (path === location.pathname + location.search + location.hash && !replace) {
    render({ user });
    return;
  }
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render({ user });
}

/** Re-render the current URL (e.g. after the session changed). */
export function render({ user = false } = {}) {
  if (current) current.abort();
  current = new AbortController();
  if (renderFn) renderFn(new URL(location.href), current.signal, { user });
}

export function start(fn) {
  renderFn = fn;
  window.addEventListener('popstate', () => render({ user: true }));
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    if (url.pathname === location.pathname && url.hash) return; // in-page anchor (skip link)
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash, { user: true });
  });
  render();
}
