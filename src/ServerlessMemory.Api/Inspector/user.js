// One user: core blocks, the archive, search with its score parts, sessions, what the model would
// see, and erasing. Everything a user or a model wrote is shown with textContent (dom.js h()).
import { ApiError, call, userPath } from './api.js';
import { strengthChart } from './chart.js';
import { chars, h, number, pair, relative, time, uid } from './dom.js';

export async function openUser(container, userId, { decay, say, fail }) {
  const view = { etag: null };
  const section = (id, title, ...children) => {
    const heading = h('h3', { id: `${id}-title`, tabindex: '-1', text: title });
    return h('section', { id, class: 'panel', 'aria-labelledby': `${id}-title` }, heading, ...children);
  };
  const guard = handler => e => {
    e?.preventDefault?.();
    Promise.resolve(handler(e)).catch(fail);
  };

  // ---- core memory -------------------------------------------------------------------------
  const blocks = h('div', { class: 'blocks' });
  const core = section('core', 'Core memory',
    h('p', { class: 'note', text: 'Always in the prompt. A save sends If-Match with the version you loaded: a change made meanwhile is shown, never overwritten.' }),
    blocks);

  async function loadCore() {
    const { data } = await call('GET', userPath(userId, 'memory', 'core'));
    view.etag = data.etag;
    blocks.replaceChildren(...data.blocks.map(blockForm));
  }

  function blockForm(block) {
    let base = block.value; // the stored value this edit started from
    const valueId = uid('block');
    const usageId = uid('usage');
    const textarea = h('textarea', { id: valueId, rows: 3, readOnly: block.readOnly, 'aria-describedby': usageId, spellcheck: 'false' });
    textarea.value = block.value;
    const meter = h('meter', { min: 0, max: block.limit, value: chars(block.value), 'aria-label': `${block.label}: characters used of its limit` });
    const usage = h('span', { id: usageId, class: 'note' });
    const showUsage = () => {
      meter.value = chars(textarea.value);
      usage.textContent = `${chars(textarea.value)} of ${block.limit} characters`;
    };
    showUsage();
    textarea.addEventListener('input', showUsage);
    const conflict = h('div', { class: 'conflict', hidden: true });

    const put = async value => {
      const answer = await call('PUT', userPath(userId, 'memory', 'core', block.label), {
        body: { value },
        headers: { 'if-match': view.etag ?? '*' },
      });
      view.etag = answer.headers.get('etag') ?? view.etag;
      base = value;
      conflict.hidden = true;
      conflict.replaceChildren();
      say(`Saved ${block.label}.`);
    };

    const save = async () => {
      const mine = textarea.value;
      try {
        await put(mine);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 412)) throw error;
        const { data } = await call('GET', userPath(userId, 'memory', 'core'));
        view.etag = data.etag;
        const stored = data.blocks.find(b => b.label === block.label);
        // Another block changed, not this one: there is nothing of anyone's to lose here.
        if (stored && stored.value === base) return put(mine);
        showConflict(mine, stored);
      }
    };

    const showConflict = (mine, stored) => {
      const noteId = uid('conflict');
      const keepStored = h('button', { type: 'button' }, 'Keep the stored version');
      const keepMine = h('button', { type: 'button' }, 'Save my version over it');
      keepStored.addEventListener('click', () => {
        textarea.value = stored?.value ?? '';
        base = stored?.value ?? '';
        showUsage();
        conflict.hidden = true;
        say(`Kept the stored version of ${block.label}; your edit was set aside.`);
        textarea.focus();
      });
      keepMine.addEventListener('click', guard(() => put(mine)));
      const message = h('p', { id: noteId, tabindex: '-1' },
        h('strong', { text: 'Not saved: this block changed since you loaded it.' }),
        ' Nothing was overwritten. Both versions are below; choose one.');
      conflict.replaceChildren(message,
        h('div', { class: 'versions' },
          h('figure', {}, h('figcaption', { text: 'Your version' }), h('pre', { class: 'mine', text: mine })),
          h('figure', {}, h('figcaption', { text: 'Stored now' }),
            h('pre', { class: 'theirs', text: stored ? stored.value : '(the block was removed)' }))),
        h('div', { class: 'row' }, keepStored, keepMine));
      conflict.setAttribute('role', 'group');
      conflict.setAttribute('aria-labelledby', noteId);
      conflict.hidden = false;
      say(`${block.label} changed meanwhile: not saved.`);
      message.focus();
    };

    return h('form', { class: 'block', onsubmit: guard(save) },
      h('h4', { text: block.label }),
      block.description ? h('p', { class: 'note', text: block.description }) : null,
      h('label', { for: valueId, text: `Value of ${block.label}` }),
      textarea,
      h('div', { class: 'row' }, meter, usage),
      block.readOnly
        ? h('p', { class: 'note', text: 'Read-only: unlock it with a PUT and "readOnly": false.' })
        : h('button', { type: 'submit' }, `Save ${block.label}`),
      conflict);
  }

  // ---- archive memory ----------------------------------------------------------------------
  const archiveList = h('ul', { class: 'memories', 'aria-label': 'Archive memories, newest first' });
  const older = h('button', { type: 'button', hidden: true }, 'Older memories');
  let archiveToken = null;
  const archive = section('archive', 'Archive',
    h('p', { class: 'note', text: 'Newest first. Each chart is the memory\'s strength from now until it is forgotten; the dashed line is the threshold.' }),
    archiveList, older);

  async function loadArchive(more) {
    const { data } = await call('GET', userPath(userId, 'memory', 'archive'), {
      query: { limit: 20, continuationToken: more ? archiveToken : undefined },
    });
    if (!more) archiveList.replaceChildren();
    archiveList.append(...data.items.map(item => memoryCard(item)));
    if (!more && data.items.length === 0) archiveList.append(h('li', { class: 'note', text: 'No archive memories.' }));
    archiveToken = data.continuationToken ?? null;
    older.hidden = !archiveToken;
  }
  older.addEventListener('click', guard(() => loadArchive(true)));

  function scoreTable(score) {
    return h('table', { class: 'score' },
      h('caption', { text: 'Score parts' }),
      h('thead', {}, h('tr', {}, ...['relevance', 'decay', 'access bonus', 'total'].map(t => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, h('tr', {}, ...[score.relevance, score.decay, score.accessBonus, score.total].map(v => h('td', { text: number(v) })))));
  }

  function memoryCard(item) {
    const contentId = uid('memory');
    const facts = h('dl', { class: 'facts' },
      pair('type', item.type),
      pair('importance', number(item.importance, 2)),
      pair('created', time(item.createdAt)),
      pair('recalled', item.accessCount === 0 ? 'never' : `${item.accessCount} times, last ${time(item.lastAccessedAt)}`),
      pair('forgotten', item.forgetAt ? `${relative(item.forgetAt)}, ${time(item.forgetAt)}` : 'never'),
      Object.keys(item.metadata ?? {}).length
        ? pair('metadata', Object.entries(item.metadata).map(([k, v]) => `${k}: ${v}`).join('; '))
        : null,
      pair('id', h('code', { text: item.id })));
    if (item.supersededAt) {
      const by = h('dd', {}, item.supersededBy ? `memory ${item.supersededBy}` : 'nothing: it was retracted');
      facts.append(h('dt', { text: 'superseded' }), h('dd', { text: time(item.supersededAt) }), h('dt', { text: 'replaced by' }), by);
      if (item.supersededBy) {
        call('GET', userPath(userId, 'memory', 'archive', item.supersededBy))
          .then(({ data }) => by.replaceChildren(h('q', { text: data.content }), ` (${data.type}, added ${time(data.createdAt)})`))
          .catch(error => {
            if (error instanceof ApiError && error.status === 404) by.textContent = `memory ${item.supersededBy}, no longer stored`;
            else fail(error);
          });
      }
    }

    const remove = h('button', { type: 'button', 'aria-describedby': contentId }, 'Delete');
    const confirm = h('button', { type: 'button', class: 'danger', hidden: true, 'aria-describedby': contentId }, 'Confirm delete');
    const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
    const card = h('li', { class: item.supersededAt ? 'memory superseded' : 'memory' },
      item.supersededAt ? h('p', { class: 'badge', text: 'Superseded' }) : null,
      h('p', { id: contentId, class: 'content', text: item.content }),
      item.score ? scoreTable(item.score) : null,
      h('div', { class: 'row' }, facts, strengthChart(item, decay)),
      h('div', { class: 'row' }, remove, confirm, cancel));
    const asking = on => {
      remove.hidden = on;
      confirm.hidden = !on;
      cancel.hidden = !on;
      (on ? confirm : remove).focus();
    };
    remove.addEventListener('click', () => asking(true));
    cancel.addEventListener('click', () => asking(false));
    confirm.addEventListener('click', guard(async () => {
      try {
        await call('DELETE', userPath(userId, 'memory', 'archive', item.id));
        say('Deleted the memory.');
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        say('That memory was already gone.');
      }
      card.remove();
      for (const other of container.querySelectorAll(`[data-memory="${item.id}"]`)) other.remove();
      byId(archive.id).querySelector('h3').focus();
    }));
    card.dataset.memory = item.id;
    return card;
  }
  const byId = id => container.querySelector(`#${id}`);

  // ---- search ------------------------------------------------------------------------------
  const queryId = uid('query');
  const topId = uid('top');
  const historyId = uid('history');
  const results = h('ul', { class: 'memories', 'aria-label': 'Search results, best first' });
  const searchNote = h('p', { class: 'note' });
  const search = section('search', 'Search the archive',
    h('form', { class: 'row', onsubmit: guard(runSearch) },
      h('label', { for: queryId, text: 'Search for' }),
      h('input', { id: queryId, type: 'search', required: true, maxlength: 1000, autocomplete: 'off' }),
      h('label', { for: topId, text: 'Results' }),
      h('input', { id: topId, type: 'number', min: 1, max: 20, value: 5, class: 'small' }),
      h('input', { id: historyId, type: 'checkbox' }),
      h('label', { for: historyId, text: 'Include superseded' }),
      h('button', { type: 'submit' }, 'Search')),
    h('p', { class: 'note', text: 'Each result counts as a recall (its access count goes up by one), as in a chat turn.' }),
    searchNote, results);

  async function runSearch() {
    const query = byId(queryId).value.trim();
    if (!query) return;
    const { data } = await call('GET', userPath(userId, 'memory', 'archive'), {
      query: { query, top: byId(topId).value || 5, history: byId(historyId).checked ? 'true' : undefined },
    });
    results.replaceChildren(...data.items.map(item => memoryCard(item)));
    searchNote.textContent = data.warning ?? '';
    say(`${data.items.length} ${data.items.length === 1 ? 'result' : 'results'} for the search.`);
  }

  // ---- sessions ----------------------------------------------------------------------------
  const sessionList = h('div', { class: 'sessions' });
  const sessions = section('sessions', 'Sessions',
    h('p', { class: 'note', text: 'The conversation, per session, newest first; a session\'s summary holds what left the prompt window.' }),
    sessionList);

  async function loadSessions() {
    const { data } = await call('GET', userPath(userId, 'messages'), { query: { limit: 100 } });
    const seen = new Map();
    for (const m of data.items) {
      const s = seen.get(m.sessionId) ?? { count: 0, last: m.createdAt };
      s.count++;
      seen.set(m.sessionId, s);
    }
    sessionList.replaceChildren(...[...seen].map(([sessionId, s]) => sessionDetails(sessionId, s)));
    if (seen.size === 0) sessionList.append(h('p', { class: 'note', text: 'No messages.' }));
  }

  function sessionDetails(sessionId, s) {
    const body = h('div', { class: 'session' });
    const details = h('details', {},
      h('summary', {}, `Session ${sessionId}: last message ${time(s.last)}`), body);
    let loaded = false;
    details.addEventListener('toggle', guard(async () => {
      if (details.open && !loaded) {
        loaded = true;
        await loadSession(sessionId, body);
      }
    }));
    return details;
  }

  async function loadSession(sessionId, body, token) {
    const { data } = await call('GET', userPath(userId, 'messages'), { query: { sessionId, limit: 50, continuationToken: token } });
    if (!token) {
      body.replaceChildren(data.summary
        ? h('div', { class: 'summary' }, h('h4', { text: 'Summary of earlier messages' }), h('p', { text: data.summary }))
        : h('p', { class: 'note', text: 'No summary yet: every message of this session still fits the prompt window.' }),
      h('ol', { class: 'messages', 'aria-label': `Messages of session ${sessionId}, newest first` }));
    }
    body.querySelector('ol').append(...data.items.map(m => h('li', { class: `message ${m.role === 'user' ? 'from-user' : 'from-model'}` },
      h('span', { class: 'role', text: m.role }), ' ', h('time', { datetime: m.createdAt, text: time(m.createdAt) }),
      h('p', { text: m.content }))));
    body.querySelector('button.more')?.remove();
    if (data.continuationToken) {
      body.append(h('button', { type: 'button', class: 'more', onclick: guard(() => loadSession(sessionId, body, data.continuationToken)) }, 'Older messages'));
    }
  }

  // ---- what the model would see ------------------------------------------------------------
  const messageId = uid('message');
  const sessionId = uid('session');
  const tokensId = uid('tokens');
  const contextOut = h('div', { class: 'context' });
  const context = section('context', 'What the model would see',
    h('form', { class: 'stack', onsubmit: guard(runContext) },
      h('label', { for: messageId, text: 'A message, as the user would send it' }),
      h('textarea', { id: messageId, rows: 2, required: true, maxlength: 8000 }),
      h('div', { class: 'row' },
        h('label', { for: sessionId, text: 'Session id' }),
        h('input', { id: sessionId, value: 'default', required: true, maxlength: 128, autocomplete: 'off' }),
        h('label', { for: tokensId, text: 'Token budget (optional)' }),
        h('input', { id: tokensId, type: 'number', min: 1, class: 'small' })),
      h('button', { type: 'submit' }, 'Show the prompt\'s memory')),
    h('p', { class: 'note', text: 'The context route: the memories it recalls count as recalled, as in a chat turn.' }),
    contextOut);

  async function runContext() {
    const tokens = byId(tokensId).value;
    const { data } = await call('POST', userPath(userId, 'context'), {
      body: { message: byId(messageId).value, sessionId: byId(sessionId).value.trim() || 'default', ...(tokens ? { tokens: Number(tokens) } : {}) },
    });
    contextOut.replaceChildren(
      h('p', { text: `${data.tokens} tokens, ${data.recalled.length} memories recalled${data.summary ? ', with the session\'s summary' : ''}.` }),
      h('h4', { text: 'System text' }),
      h('pre', { class: 'prompt', tabindex: '0', 'aria-label': 'System text', text: data.text }),
      data.recalled.length ? h('h4', { text: 'Recalled memories' }) : null,
      data.recalled.length ? h('ol', { class: 'recalled' }, ...data.recalled.map(r =>
        h('li', {}, h('p', { class: 'content', text: r.content }), r.score ? scoreTable(r.score) : null))) : null);
    say(`The prompt's memory: ${data.tokens} tokens.`);
  }

  // ---- erase -------------------------------------------------------------------------------
  const confirmId = uid('erase');
  const eraseButton = h('button', { type: 'button', class: 'danger', disabled: true }, 'Erase this user');
  const confirmInput = h('input', { id: confirmId, autocomplete: 'off', spellcheck: 'false' });
  confirmInput.addEventListener('input', () => { eraseButton.disabled = confirmInput.value !== userId; });
  eraseButton.addEventListener('click', guard(async () => {
    if (confirmInput.value !== userId) return;
    await call('DELETE', userPath(userId));
    confirmInput.value = '';
    eraseButton.disabled = true;
    await loadAll();
    say(`Erased ${userId}: core memory, archive and messages are gone.`);
    byId('user-title').focus();
  }));
  const erase = section('erase', 'Erase this user',
    h('p', { text: 'Removes core memory, every archive memory and every message of this user, for good.' }),
    h('label', { for: confirmId, text: `Type the user id, ${userId}, to confirm` }),
    h('div', { class: 'row' }, confirmInput, eraseButton));

  async function loadAll() {
    await Promise.all([loadCore(), loadArchive(false), loadSessions()]);
  }

  container.replaceChildren(h('section', { 'aria-labelledby': 'user-title' },
    h('h2', { id: 'user-title', tabindex: '-1' }, 'User ', h('span', { class: 'user-id', text: userId })),
    h('nav', { 'aria-label': 'Parts of this user' }, h('ul', { class: 'jump' },
      ...[[core, 'Core'], [archive, 'Archive'], [search, 'Search'], [sessions, 'Sessions'], [context, 'Context'], [erase, 'Erase']]
        .map(([s, text]) => h('li', {}, h('a', { href: `#${s.id}` }, text))))),
    core, archive, search, sessions, context, erase));
  await loadAll();
  say(`Opened ${userId}.`);
  byId('user-title').focus();
}
