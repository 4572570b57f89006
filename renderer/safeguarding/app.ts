import { roleAllows } from '../../src/shared/roles.js';
import { visible } from '../shared/console-api.js';
import { watchScrollRegions } from '../shared/scroll-regions.js';
import { wireSession, type Me } from '../shared/sign-in.js';
import { ConcernPage } from './concern-page.js';
import { ConcernQueue } from './queue.js';
import { ROLE_TEXT } from './words.js';

/**
 * The safeguarding lead's screen: pupils' reported concerns, apart from the IT dashboard. Only
 * the safeguarding lead's role may read them (the console answers 403 to anyone else, and this
 * page does not even ask for another role). Everything from the console is validated with the
 * shared schemas and written as text, never as HTML: a pupil's words cannot become markup.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const SECTIONS = ['sign-in', 'not-allowed', 'queue', 'concern-page'] as const;

let me: Me | null = null;
let queue: ConcernQueue | null = null;
let concernPage: ConcernPage | null = null;

function showOnly(section: (typeof SECTIONS)[number] | null): void {
  for (const id of SECTIONS) $(id).hidden = id !== section;
}

function showSignIn(message = ''): void {
  me = null;
  showOnly('sign-in');
  $('whoami').hidden = true;
  // Nothing of a concern may stay in the page once the session is gone.
  $('concern-rows').replaceChildren();
  $('concern-text').textContent = '';
  $('concern-facts').replaceChildren();
  $('sign-in-error').textContent = message;
  $<HTMLInputElement>('username').focus();
}

function showRefusal(): void {
  showOnly('not-allowed');
  $('concern-rows').replaceChildren();
  $('concern-text').textContent = '';
  $('concern-facts').replaceChildren();
  $('not-allowed-text').textContent = me ? visible(`You are signed in as ${me.username} (${ROLE_TEXT[me.role]}).`) : '';
  $('not-allowed-title').focus();
}

function refused(status: number): void {
  if (status === 401) showSignIn('Your session has ended. Please sign in again.');
  else showRefusal();
}

function showApp(signedIn: Me): void {
  me = signedIn;
  $('whoami').hidden = false;
  $('whoami-name').textContent = visible(`${me.username} (${ROLE_TEXT[me.role]})`);
  if (!roleAllows(me.role, 'concerns:manage')) return showRefusal();
  if (!queue) {
    queue = new ConcernQueue();
    queue.onRefused = refused;
  }
  if (!concernPage) {
    concernPage = new ConcernPage();
    concernPage.onRefused = refused;
  }
  route();
}

/** #/ (the queue) and #/concern/<id>. */
function route(): void {
  if (!me || !queue || !concernPage || !roleAllows(me.role, 'concerns:manage')) return;
  const concern = /^#\/concern\/([0-9a-f-]{36})$/.exec(location.hash);
  if (concern) {
    showOnly('concern-page');
    void concernPage.open(concern[1]!);
  } else {
    showOnly('queue');
    void queue.load().then(() => $('queue-title').focus());
  }
}

watchScrollRegions();
const checkSession = wireSession(showApp, showSignIn);
window.addEventListener('hashchange', route);
void checkSession();
