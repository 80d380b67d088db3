// views/auth.js: sign in and register.
import { api } from '../api.js';
import { h, field, formError, submitForm } from '../ui.js';

export function renderAuth(ctx, mode) {
  const card = h('div', { class: 'auth-card', testid: `auth-${mode}` });
  card.appendChild(h('h1', { class: 'brand big' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'G'), 'galley'));
  card.appendChild(h('p', { class: 'muted' }, mode === 'register' ? 'Create your account to order.' : 'Sign in to the restaurant dashboard.'));

  const email = h('input', { type: 'email', autocomplete: 'username', testid: `${mode}-email`, required: true });
  const password = h('input', {
    type: 'password',
    autocomplete: mode === 'register' ? 'new-password' : 'current-password',
    testid: `${mode}-password`,
  });
  const name = h('input', { type: 'text', autocomplete: 'name', testid: 'register-name' });
  const invitation = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', class: 'mono', testid: 'register-invitation' });

  const form = h(
    'form',
    { class: 'stack', testid: `${mode}-form` },
    mode === 'register' ? field('Name', 'name', name) : null,
    field('Email', 'email', email),
    field('Password', 'password', password, mode === 'register' ? '8 to 128 characters' : null),
    mode === 'register'
      ? field('Invitation code (optional)', 'invitation', invitation, 'Only if staff gave you one: your account then has the details they keep for you')
      : null,
    formError(),
    h('button', { type: 'submit', class: 'primary wide', testid: `${mode}-submit` }, mode === 'register' ? 'Create account' : 'Sign in'),
  );
  submitForm(form, async () => {
    if (mode === 'register') {
      const body = { email: email.value.trim(), password: password.value, name: name.value.trim() };
      if (invitation.value.trim()) body.invitation = invitation.value.trim();
      await api('POST', '/api/auth/register', { anonymous: true, body });
    }
    const session = await api('POST', '/api/auth/login', {
      anonymous: true,
      body: { email: email.value.trim(), password: password.value },
    });
    await ctx.signedIn(session.token);
  });
  card.appendChild(form);
  card.appendChild(
    mode === 'register'
      ? h('p', { class: 'switch' }, 'Have an account? ', h('a', { href: '#/signin', testid: 'go-signin' }, 'Sign in'))
      : h('p', { class: 'switch' }, 'New here? ', h('a', { href: '#/register', testid: 'go-register' }, 'Create an account')),
  );
  return h('main', { class: 'auth-page', id: 'main', tabindex: '-1' }, card);
}
