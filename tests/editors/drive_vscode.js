// Drive VS Code for the Web (code-server) in Debian's chromium through playwright-core.
// MODE=ghost (default): open calc.py, press Enter after `def add(a, b):` (VS Code indents
// the new line), wait for CodeHearth's ghost text (textDocument/inlineCompletion), accept
// it with Tab, save.
// MODE=chat: open calc.py, select `def add(a, b):`, run "CodeHearth: Ask…" from the command
// palette, type QUESTION, wait for ANSWER in the "CodeHearth Chat" output channel.
// MODE=typing: with VS Code's default suggest settings, on a new line in add()'s body type
// TYPE (`pri`) one key at a time: the word-suggestion widget opens on `print` (a word of
// the file) and CodeHearth's ghost text must extend it with EXPECT while the widget is
// open; no notification may appear; Tab accepts the word, Tab the ghost text, save.
// MODE=invoke: on a new line in add()'s body press Alt+\ (Trigger Inline Suggestion): ghost
// text EXPECT, then Alt+] twice shows the alternatives ALTERNATIVES (`|`-separated).
// MODE=quickfix: calc.py holds a syntax error on line 4 (`def main(:`); wait for its
// squiggle (codehearth.diagnostics.syntax), Control+. on line 4, pick "CodeHearth: fix…"
// from the lightbulb menu, wait for EXPECT (e.g. `def main():`) in the editor, save.
// usage: URL=http://127.0.0.1:PORT/?folder=WS FILE=WS/calc.py SHOT=<png prefix> \
//        PROFILE=<empty dir> NODE_PATH=tests/editors/node_modules node drive_vscode.js
// Prints "STEP ..." lines and "RESULT: PASS|FAIL"; exit status 0 on PASS.
const { chromium } = require('playwright-core');
const fs = require('fs');

const { URL, FILE, SHOT, PROFILE } = process.env;
const EXPECT = process.env.EXPECT || 'return a + b';
const MODE = process.env.MODE || 'ghost';
const QUESTION = process.env.QUESTION || 'What does this function do?';
const ANSWER = process.env.ANSWER || '';
const TYPE = process.env.TYPE || 'pri';
const ACCEPTED = process.env.ACCEPTED || '    print(a + b)';
const ALTERNATIVES = (process.env.ALTERNATIVES || '').split('|').filter(Boolean);
const t0 = Date.now();
const step = (...a) => console.log(`STEP ${((Date.now() - t0) / 1000).toFixed(1)}s`, ...a);
// VS Code renders one suggestion as several decoration spans (one per token run): join
// them and normalise the spacing before comparing. With the suggest widget open, the part
// of an inline suggestion beyond the widget's word is a "preview" span.
const ghostText = () => [...document.querySelectorAll('.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text')]
  .map(e => e.textContent).join('').replace(/\s+/g, ' ').trim();

(async () => {
  const ctx = await chromium.launchPersistentContext(PROFILE, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    env: { ...process.env, XDG_CONFIG_HOME: PROFILE, XDG_CACHE_HOME: PROFILE },
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', e => step('pageerror', e.message));
  let ghost = '', saved = '', chat = '';
  try {
    await page.goto(URL);
    await page.waitForSelector('.monaco-workbench', { timeout: 30000 });
    step('workbench visible');
    await page.waitForTimeout(1500);
    await page.keyboard.press('Control+P');                 // Quick Open
    await page.waitForSelector('.quick-input-widget input', { timeout: 15000 });
    await page.keyboard.type('calc.py', { delay: 30 });
    // Enter only once the file search has listed calc.py (a fixed wait raced it)
    await page.waitForFunction(() => [...document.querySelectorAll('.quick-input-list .monaco-list-row.focused')]
      .some(e => e.textContent.includes('calc.py')), null, { timeout: 15000 });
    await page.waitForTimeout(200);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 15000 });
    await page.click('.monaco-editor .view-lines');
    step('calc.py open');
    // the extension is ready when its status bar item names the model
    try {
      await page.waitForFunction(() => [...document.querySelectorAll('.statusbar-item')]
        .some(e => /CodeHearth: \S/.test(e.textContent) && !/off/.test(e.textContent)),
      null, { timeout: 20000 });
      step('status bar:', await page.evaluate(() => [...document.querySelectorAll('.statusbar-item')]
        .map(e => e.textContent.trim()).filter(t => t.includes('CodeHearth')).join(' | ')));
    } catch (e) {
      const status = await page.evaluate(() => [...document.querySelectorAll('.statusbar-item')]
        .map(e => e.textContent.trim()).filter(t => t.includes('CodeHearth')).join(' | '));
      throw new Error(`CodeHearth not ready after 20 s, status bar: ${JSON.stringify(status)}`);
    }
    watchNotifications(page);
    if (MODE === 'chat') {
      chat = await askInChat(page);
    } else if (MODE === 'typing') {
      [ghost, saved] = await typeWithSuggestWidget(page);
    } else if (MODE === 'invoke') {
      ghost = await invokeAndCycle(page);
    } else if (MODE === 'quickfix') {
      saved = await quickFix(page);
    } else {
      [ghost, saved] = await ghostAndTab(page);
    }
  } catch (e) {
    step('ERROR', e.message);
    await page.screenshot({ path: SHOT + (MODE === 'ghost' ? '' : '-' + MODE) + '-error.png' }).catch(() => {});
  }
  const toasts = await page.evaluate(notificationTexts).catch(() => []);
  for (const text of new Set([...notifications, ...toasts])) step('notification:', JSON.stringify(text));
  await ctx.close();
  const quiet = notifications.size === 0 && toasts.length === 0;
  const pass = MODE === 'chat'
    ? ANSWER !== '' && chat.includes(ANSWER)
    : MODE === 'quickfix'
      ? saved.includes(EXPECT + '\n')
      : MODE === 'typing'
        ? quiet && ghost.includes(EXPECT) && saved.includes(ACCEPTED + '\n')
        : MODE === 'invoke'
          ? quiet && ghost === ALTERNATIVES.join('|')
          : ghost.includes(EXPECT) && saved.includes('    ' + EXPECT + '\n');
  console.log(pass ? 'RESULT: PASS' : 'RESULT: FAIL');
  process.exit(pass ? 0 : 1);
})();

// The ghost-text round trip: returns [ghost text seen, calc.py on disk].
async function ghostAndTab(page) {
  let ghost = '', saved = '';
  // line 4 is `def add(a, b):`; End, Enter -> an indented blank line in the body
  await page.keyboard.press('Control+G');
  await page.keyboard.type('4', { delay: 30 });
  await page.keyboard.press('Enter');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  step('typed Enter after def add(a, b):');
  try {   // no Escape here: it would dismiss the inline suggestion
    await page.waitForFunction(expect => [...document.querySelectorAll('.ghost-text-decoration, .ghost-text')]
      .map(e => e.textContent).join('').replace(/\s+/g, ' ').includes(expect), EXPECT, { timeout: 20000 });
  } catch (e) { step('no ghost text within 20 s'); }
  ghost = await page.evaluate(ghostText);
  step('ghost text:', JSON.stringify(ghost));
  await page.screenshot({ path: SHOT + '-ghost.png' });
  await page.keyboard.press('Tab');                       // accept
  await page.waitForTimeout(300);
  await page.keyboard.press('Control+S');
  for (let i = 0; i < 30; i++) {
    saved = fs.readFileSync(FILE, 'utf8');
    if (saved.includes(EXPECT)) break;
    await page.waitForTimeout(100);
  }
  step('calc.py on disk:', JSON.stringify(saved));
  await page.screenshot({ path: SHOT + '-accepted.png' });
  return [ghost, saved];
}

// Notification toasts on screen now (error, warning or info), and every one seen while
// the page ran: polled, because a toast can be gone again by the end.
const notificationTexts = () => [...document.querySelectorAll('.notifications-toasts .notification-list-item')]
  .map(e => e.textContent.replace(/\s+/g, ' ').trim()).filter(Boolean);
const notifications = new Set();
function watchNotifications(page) {
  const poll = async () => {
    try {
      for (const text of await page.evaluate(notificationTexts)) notifications.add(text);
      setTimeout(poll, 100);
    } catch (e) { /* the page is closing */ }
  };
  poll();
}
const suggestWidgetOpen = () => !!document.querySelector('.suggest-widget.visible');
const suggestItems = () => [...document.querySelectorAll('.suggest-widget.visible .monaco-list-row')]
  .map(e => (e.getAttribute('aria-label') || e.textContent).trim());

// A new, indented line in the body of add() (line 4 is `def add(a, b):`).
async function newBodyLine(page) {
  await page.keyboard.press('Control+G');
  await page.keyboard.type('4', { delay: 30 });
  await page.keyboard.press('Enter');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
}

// Typing an identifier with the suggest widget open: returns [ghost text seen, calc.py].
async function typeWithSuggestWidget(page) {
  await newBodyLine(page);
  let typedAt = 0;
  for (const key of TYPE) {
    await page.keyboard.type(key);
    typedAt = Date.now();
    await page.waitForTimeout(150);
    step(`typed ${JSON.stringify(key)}; 150 ms later the suggest widget shows`,
      JSON.stringify(await page.evaluate(suggestItems)), 'and the ghost text', JSON.stringify(await page.evaluate(ghostText)));
  }
  let ghost = '';
  try {
    await page.waitForFunction(expect => !!document.querySelector('.suggest-widget.visible')
      && [...document.querySelectorAll('.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text')]
        .map(e => e.textContent).join('').replace(/\s+/g, ' ').includes(expect), EXPECT, { timeout: 20000 });
    step(`ghost text with the suggest widget open ${((Date.now() - typedAt) / 1000).toFixed(2)} s after the last key`);
  } catch (e) { step('no ghost text with the suggest widget open within 20 s'); }
  ghost = await page.evaluate(ghostText);
  step('ghost text:', JSON.stringify(ghost), 'suggest widget:', JSON.stringify(await page.evaluate(suggestItems)));
  await page.screenshot({ path: SHOT + '-typing-ghost.png' });
  // Tab takes the widget's word, then the ghost text still extends it: Tab again. (The
  // rendered line holds the ghost text too, so the saved file tells what was accepted.)
  let saved = '';
  for (let i = 1; i <= 2 && !saved.includes(ACCEPTED + '\n'); i++) {
    await page.keyboard.press('Tab');
    await page.waitForTimeout(500);
    step(`Tab ${i}: ghost`, JSON.stringify(await page.evaluate(ghostText)),
      'suggest widget open:', await page.evaluate(suggestWidgetOpen));
    await page.keyboard.press('Control+S');
    for (let j = 0; j < 20; j++) {
      await page.waitForTimeout(100);
      saved = fs.readFileSync(FILE, 'utf8');
      if (saved.includes(ACCEPTED + '\n')) break;
    }
  }
  step('calc.py on disk:', JSON.stringify(saved));
  await page.screenshot({ path: SHOT + '-typing-accepted.png' });
  return [ghost, saved];
}

// Alt+\ (Trigger Inline Suggestion), then Alt+] to each alternative: returns the ghost
// texts seen, `|`-separated.
async function invokeAndCycle(page) {
  await newBodyLine(page);
  await page.waitForTimeout(300);
  const pressed = Date.now();
  await page.keyboard.press('Alt+Backslash');
  step('pressed Alt+\\');
  const seen = [];
  for (let i = 0; i < ALTERNATIVES.length; i++) {
    if (i > 0) await page.keyboard.press('Alt+BracketRight');   // next inline suggestion
    try {
      await page.waitForFunction(expect => [...document.querySelectorAll('.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text')]
        .map(e => e.textContent).join('').replace(/\s+/g, ' ').includes(expect), ALTERNATIVES[i], { timeout: 20000 });
    } catch (e) { step(`no ghost text ${JSON.stringify(ALTERNATIVES[i])} within 20 s`); }
    const ghost = await page.evaluate(ghostText);
    step(`ghost text ${i + 1} after ${((Date.now() - pressed) / 1000).toFixed(2)} s:`, JSON.stringify(ghost));
    await page.screenshot({ path: `${SHOT}-invoke-${i + 1}.png` });
    const found = ALTERNATIVES.find(a => ghost.includes(a));
    seen.push(found || ghost);
    if (found !== ALTERNATIVES[i]) break;   // the rest would time out the same way
  }
  return seen.join('|');
}

// Text of the output panel's editor (the channel shown), spaces normalised.
const panelText = () => [...document.querySelectorAll('.part.panel .view-lines .view-line')]
  .map(e => e.textContent.replace(/\u00a0/g, ' ')).join('\n');

// The chat round trip: select `def add(a, b):`, F1 -> "CodeHearth: Ask…" -> the question;
// returns the text of the "CodeHearth Chat" output channel.
async function askInChat(page) {
  await page.keyboard.press('Control+G');                 // line 4 is `def add(a, b):`
  await page.keyboard.type('4', { delay: 30 });
  await page.keyboard.press('Enter');
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+End');
  step('selected line 4');
  await page.keyboard.press('F1');                        // command palette
  await page.waitForSelector('.quick-input-widget input', { timeout: 15000 });
  await page.keyboard.type('CodeHearth: Ask', { delay: 20 });
  await page.waitForFunction(() => [...document.querySelectorAll('.quick-input-list .monaco-list-row.focused')]
    .some(e => e.textContent.includes('CodeHearth: Ask')), null, { timeout: 10000 });
  await page.keyboard.press('Enter');
  // the input box replaces the palette: wait for its title, then type the question
  await page.waitForFunction(() => {
    const w = document.querySelector('.quick-input-widget');
    return w && w.style.display !== 'none' && w.textContent.includes('CodeHearth: Ask');
  }, null, { timeout: 10000 });
  await page.waitForTimeout(200);
  await page.keyboard.type(QUESTION, { delay: 10 });
  await page.keyboard.press('Enter');
  step('asked:', JSON.stringify(QUESTION));
  let chat = '';
  try {
    await page.waitForFunction(answer => [...document.querySelectorAll('.part.panel .view-lines .view-line')]
      .map(e => e.textContent.replace(/\u00a0/g, ' ')).join('\n').includes(answer), ANSWER, { timeout: 20000 });
  } catch (e) { step('no answer in the output panel within 20 s'); }
  chat = await page.evaluate(panelText);
  const title = await page.evaluate(() => {
    const box = document.querySelector('.part.panel .monaco-select-box, .part.panel select');
    return box ? (box.value || box.title || box.textContent) : '';
  });
  step('output channel:', JSON.stringify(title));
  step('chat output:', JSON.stringify(chat));
  await page.screenshot({ path: SHOT + '-chat.png' });
  return chat;
}

// Text of the active editor's visible lines, spaces normalised.
const editorText = () => [...document.querySelectorAll('.editor-instance .monaco-editor .view-lines .view-line')]
  .map(e => e.textContent.replace(/\u00a0/g, ' ')).join('\n');

// The lightbulb round trip: syntax squiggle on line 4 -> Control+. -> "CodeHearth: fix…"
// (codeAction/resolve asks the model) -> the fixed line in the editor -> saved; returns
// calc.py on disk.
async function quickFix(page) {
  try {
    await page.waitForFunction(() => document.querySelector('.monaco-editor .squiggly-error'),
      null, { timeout: 20000 });
  } catch (e) { throw new Error('no syntax squiggle within 20 s'); }
  step('squiggle visible; problems:', JSON.stringify(await page.evaluate(() =>
    [...document.querySelectorAll('.statusbar-item')].map(e => e.getAttribute('aria-label') || '')
      .filter(t => /error/i.test(t)).join(' | '))));
  await page.keyboard.press('Control+G');                 // line 4 is `def main(:`
  await page.keyboard.type('4', { delay: 30 });
  await page.keyboard.press('Enter');
  await page.keyboard.press('End');
  await page.keyboard.press('Control+.');                 // the quick fix (lightbulb) menu
  const entry = '.action-widget .monaco-list-row';
  await page.waitForFunction(sel => [...document.querySelectorAll(sel)]
    .some(e => e.textContent.includes('CodeHearth: fix')), entry, { timeout: 15000 });
  const entries = await page.evaluate(sel => [...document.querySelectorAll(sel)]
    .map(e => e.textContent.trim()), entry);
  step('quick fix menu:', JSON.stringify(entries));
  await page.screenshot({ path: SHOT + '-quickfix-menu.png' });
  // keyboard, not a click (the menu's pointer block intercepts clicks): arrow down to the
  // entry unless it is focused already, then Enter
  const focused = () => page.evaluate(sel => [...document.querySelectorAll(sel + '.focused')]
    .some(e => e.textContent.includes('CodeHearth: fix')), entry);
  for (let i = 0; i < entries.length && !(await focused()); i++) {
    await page.keyboard.press('ArrowDown');
    await page.waitForTimeout(100);
  }
  if (!(await focused())) throw new Error('could not focus the CodeHearth: fix entry');
  await page.keyboard.press('Enter');
  step('picked CodeHearth: fix');
  try {
    await page.waitForFunction(expect => [...document.querySelectorAll('.editor-instance .monaco-editor .view-lines .view-line')]
      .some(e => e.textContent.replace(/\u00a0/g, ' ').includes(expect)), EXPECT, { timeout: 20000 });
  } catch (e) { step(`no ${JSON.stringify(EXPECT)} in the editor within 20 s`); }
  step('editor:', JSON.stringify(await page.evaluate(editorText)));
  await page.keyboard.press('Control+S');
  let saved = '';
  for (let i = 0; i < 30; i++) {
    saved = fs.readFileSync(FILE, 'utf8');
    if (saved.includes(EXPECT)) break;
    await page.waitForTimeout(100);
  }
  step('calc.py on disk:', JSON.stringify(saved));
  await page.screenshot({ path: SHOT + '-quickfix.png' });
  return saved;
}
