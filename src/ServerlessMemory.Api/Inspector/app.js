// The inspector's entry: sign-in, the users list, the sweep, and opening one user (user.js).
import { ApiError, call, key } from './api.js';
import { byId, h, time } from './dom.js';
import { openUser } from './user.js';

const state = { decay: null, usersToken: null, usersPrefix: '' };

export function say(text) {
  byId('error').textContent = '';
  byId('status').textContent = text;
}

export function fail(error) {
  if (error instanceof ApiError && error.status === 401 && !state.adminOnly) {
    // The key was refused (or none was given and the service has keys): ask for one.
    showSignIn(key.get() ? 'That key was not accepted.' : 'This service needs a key.');
    return;
  }
  byId('status').textContent = '';
  byId('error').textContent = error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`;
}

/** Runs an admin call, where a 401 means "not the admin key" rather than "sign in again". */
async function asAdmin(action) {
  state.adminOnly = true;
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      byId('status').textContent = '';
      byId('error').textContent = 'This needs the admin key: sign out and sign in with it.';
      return undefined;
    }
    throw error;
  } finally {
    state.adminOnly = false;
  }
}

function showSignIn(message) {
  key.clear();
  byId('app').hidden = true;
  byId('sign-out').hidden = true;
  byId('who').textContent = '';
  byId('sign-in').hidden = false;
  byId('status').textContent = '';
  byId('error').textContent = message ?? '';
  byId('key').value = '';
  byId('key').focus();
}

/** A call every key may make and that reads no user: tells whether this key (or none) is accepted. */
async function probe() {
  try {
    const health = await call('GET', 'health');
    state.decay = health.data?.decay ?? null;
    await call('GET', 'tools');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showSignIn(key.get() ? 'That key was not accepted.' : '');
      return false;
    }
    fail(error);
    return false;
  }
  byId('sign-in').hidden = true;
  byId('app').hidden = false;
  byId('sign-out').hidden = !key.get();
  byId('who').textContent = key.get() ? 'Signed in with a key.' : 'This service needs no key (loopback, no keys set).';
  return true;
}

async function listUsers(more) {
  const prefix = more ? state.usersPrefix : byId('user-prefix').value.trim();
  const answer = await asAdmin(() => call('GET', 'admin/users', {
    query: { prefix, limit: 20, continuationToken: more ? state.usersToken : undefined },
  }));
  if (!answer) return;
  const list = byId('user-list');
  if (!more) list.replaceChildren();
  state.usersPrefix = prefix;
  state.usersToken = answer.data.continuationToken ?? null;
  for (const user of answer.data.items) {
    const facts = [
      typeof user.archiveItems === 'number' ? `${user.archiveItems} memories` : null,
      typeof user.messages === 'number' ? `${user.messages} messages` : null,
      user.lastActivity ? `last active ${time(user.lastActivity)}` : null,
    ].filter(Boolean).join(', ');
    list.append(h('li', {},
      h('button', { type: 'button', class: 'link', onclick: () => open(user.userId) }, user.userId),
      facts ? h('span', { class: 'note', text: ` ${facts}` }) : null));
  }
  byId('more-users').hidden = !state.usersToken;
  say(answer.data.items.length === 0 && !more ? 'No user has that prefix.' : `${list.children.length} users shown.`);
}

async function runSweep() {
  byId('run-sweep').disabled = true;
  try {
    const answer = await asAdmin(() => call('POST', 'admin/decay'));
    if (!answer) return;
    const r = answer.data;
    const text = `Scanned ${r.scanned}, forgot ${r.forgotten} memories of ${r.users} users, in ${r.durationMs} ms.`;
    byId('sweep-result').textContent = text;
    say(`The sweep ran. ${text}`);
  } finally {
    byId('run-sweep').disabled = false;
  }
}

function open(userId) {
  byId('user-id').value = userId;
  openUser(byId('user'), userId, { decay: state.decay, say, fail }).catch(fail);
}

function on(id, event, handler) {
  byId(id).addEventListener(event, e => {
    if (event === 'submit') e.preventDefault();
    Promise.resolve(handler(e)).catch(fail);
  });
}

on('sign-in-form', 'submit', async () => {
  const value = byId('key').value.trim();
  if (!value) return;
  key.set(value);
  byId('key').value = '';
  if (await probe()) {
    say('Signed in.');
    byId('user-id').focus();
  }
});
on('sign-out', 'click', () => {
  byId('user').replaceChildren();
  showSignIn('Signed out.');
});
on('open-user-form', 'submit', () => open(byId('user-id').value.trim()));
on('list-users-form', 'submit', () => listUsers(false));
on('more-users', 'click', () => listUsers(true));
on('run-sweep', 'click', runSweep);

probe();
