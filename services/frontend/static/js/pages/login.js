// Sign-in and the (forced) password change.
import { h, field, messageArea } from '../dom.js';
import { login, changePassword, currentUser, describeError, ApiError, logout } from '../api.js';
import { navigate } from '../router.js';

function authCard(title, subtitle, ...body) {
  return h('div', { class: 'auth-page' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'auth-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
        h('span', { class: 'brand-name' }, 'Contract Lucidity')),
      h('main', { id: 'main', tabindex: '-1' },
        h('h1', { class: 'auth-title' }, title),
        subtitle ? h('p', { class: 'auth-subtitle' }, subtitle) : null,
        body)),
    h('p', { class: 'auth-footer' }, 'Self-hosted contract review. Your documents stay on your servers.'));
}

function safeNext(next) {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/projects';
}

export function loginPage(ctx) {
  ctx.setPage('Sign in');
  if (currentUser()) {
    navigate(safeNext(ctx.query.get('next')), { replace: true });
    return;
  }
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const msg = messageArea();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  if (ctx.flash) msg.set(ctx.flash, 'notice');
  const form = h('form', { class: 'form', novalidate: true }, msg,
    field('Email', email), field('Password', password), submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!email.value.trim() || !password.value) {
      msg.set('Enter your email and password.');
      (email.value.trim() ? password : email).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const s = await login(email.value.trim(), password.value);
      navigate(s.user && s.user.must_change_password ? '/change-password' : safeNext(ctx.query.get('next')), { replace: true });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 400)) {
        msg.set('The email or password is not correct.');
      } else if (err instanceof ApiError && err.status === 403) {
        msg.set('This account is disabled. Contact your administrator.');
      } else {
        msg.set(describeError(err));
      }
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  ctx.main.append(authCard('Sign in', 'Review contracts with your team.', form));
  email.focus();
}

export function changePasswordPage(ctx) {
  const user = currentUser();
  const forced = Boolean(user && user.must_change_password);
  ctx.setPage(forced ? 'Choose a new password' : 'Change password');
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true, name: 'current_password' });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: 12, name: 'new_password' });
  const confirm = h('input', { type: 'password', autocomplete: 'new-password', required: true, name: 'confirm_password' });
  const msg = messageArea();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Save new password');
  const form = h('form', { class: 'form', novalidate: true }, msg,
    field(forced ? 'Temporary password' : 'Current password', current),
    field('New password', next, 'At least 12 characters. A few unrelated words make a strong password.'),
    field('Repeat the new password', confirm),
    submit,
    forced ? h('button', { type: 'button', class: 'btn btn-ghost btn-block', onclick: () => logout() }, 'Sign out')
      : h('a', { href: '/projects', class: 'btn btn-ghost btn-block' }, 'Cancel'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!current.value) { msg.set('Enter your current password.'); current.focus(); return; }
    if (next.value.length < 12) { msg.set('The new password needs at least 12 characters.'); next.focus(); return; }
    if (next.value !== confirm.value) { msg.set('The two new passwords do not match.'); confirm.focus(); return; }
    if (next.value === current.value) { msg.set('Choose a password different from the current one.'); next.focus(); return; }
    submit.disabled = true;
    try {
      await changePassword(current.value, next.value);
      navigate('/projects', { replace: true });
    } catch (err) {
      if (err instanceof ApiError && ((err.status === 400 || err.status === 403) && !/password change required/i.test(err.detail)
        || (err.status === 422 && /current password/i.test(err.detail)))) {
        msg.set('The current password is not correct.');
      } else if (err instanceof ApiError && err.status === 401) {
        return; // the session ended; the app shows the sign-in page
      } else {
        msg.set(describeError(err));
      }
    } finally {
      submit.disabled = false;
    }
  });
  ctx.main.append(authCard(forced ? 'Choose a new password' : 'Change password',
    forced ? 'For your security, replace the temporary password before you continue.' : null, form));
  current.focus();
}
