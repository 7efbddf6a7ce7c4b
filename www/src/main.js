// main.js — the dashboard's shell: navigation, the hash router
// (#/, #/topics, #/topics/NAME, #/topics/NAME/records?partition=P,
// #/groups, #/groups/NAME) and the token prompt shown when the broker
// answers 401 (docs/SECURITY.md).

import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './ui.js';
import { getToken, setToken } from './api.js';
import { Overview } from './views/overview.js';
import { Topics } from './views/topics.js';
import { Topic } from './views/topic.js';
import { Records } from './views/records.js';
import { Groups, Group } from './views/groups.js';

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query };
}

function route({ parts, query }) {
  const [a, b, c] = parts;
  if (!a) return { nav: 'overview', view: html`<${Overview} />` };
  if (a === 'topics' && !b) return { nav: 'topics', view: html`<${Topics} />` };
  if (a === 'topics' && c === 'records')
    return { nav: 'topics', view: html`<${Records} key=${b} topic=${b} query=${query} />` };
  if (a === 'topics') return { nav: 'topics', view: html`<${Topic} key=${b} name=${b} />` };
  if (a === 'groups' && !b) return { nav: 'groups', view: html`<${Groups} />` };
  if (a === 'groups') return { nav: 'groups', view: html`<${Group} key=${b} name=${b} />` };
  return { nav: '', view: html`<section><h1>Not found</h1><p><a href="#/">Overview</a></p></section>` };
}

function TokenPrompt() {
  const ref = useRef(null);
  const [reason, setReason] = useState('');
  const [token, setTok] = useState('');
  const [remember, setRemember] = useState(false);
  useEffect(() => {
    const ask = (e) => {
      const p = e.detail || {};
      setReason(getToken() ? 'The token was refused. ' + (p.detail || '') :
        'This broker needs a bearer token.');
      setTok('');
      if (!ref.current.open) ref.current.showModal();
    };
    window.addEventListener('strand-unauthorized', ask);
    return () => window.removeEventListener('strand-unauthorized', ask);
  }, []);
  const submit = (e) => {
    e.preventDefault();
    if (!token.trim()) return;
    ref.current.close();
    setToken(token.trim(), remember);
  };
  return html`<dialog ref=${ref} id="token-dialog" aria-labelledby="token-title"
      onCancel=${(e) => e.preventDefault()}>
    <form onSubmit=${submit}>
      <h2 id="token-title">Sign in to strand</h2>
      <p>${reason} Tokens come from the broker's <code>--auth-file</code>.</p>
      <label>Token<input id="token-input" name="token" type="password" autocomplete="current-password"
        required value=${token} onInput=${(e) => setTok(e.target.value)} /></label>
      <label class="check"><input type="checkbox" checked=${remember}
        onChange=${(e) => setRemember(e.target.checked)} /> Remember on this device</label>
      <div class="actions"><button type="submit" class="primary">Use token</button></div>
    </form>
  </dialog>`;
}

function App() {
  const [loc, setLoc] = useState(parseHash());
  const [signedIn, setSignedIn] = useState(!!getToken());
  const main = useRef(null);
  useEffect(() => {
    const onHash = () => { setLoc(parseHash()); main.current && main.current.focus(); };
    const onToken = () => setSignedIn(!!getToken());
    window.addEventListener('hashchange', onHash);
    window.addEventListener('strand-token', onToken);
    return () => {
      window.removeEventListener('hashchange', onHash);
      window.removeEventListener('strand-token', onToken);
    };
  }, []);
  const { nav, view } = route(loc);
  const link = (id, href, label) => html`<a href=${href} class=${nav === id ? 'active' : ''}
    aria-current=${nav === id ? 'page' : undefined}>${label}</a>`;
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); main.current.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">strand</a>
      <nav aria-label="Main">
        ${link('overview', '#/', 'Overview')}
        ${link('topics', '#/topics', 'Topics')}
        ${link('groups', '#/groups', 'Consumer groups')}
      </nav>
      ${signedIn && html`<button class="small" onClick=${() => setToken('')}>Forget token</button>`}
    </header>
    <main id="main" ref=${main} tabindex="-1">${view}</main>
    <${TokenPrompt} />`;
}

render(html`<${App} />`, document.getElementById('app'));
