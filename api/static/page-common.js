// CertLedger's two pages (/verify, /wallet): what their headers share. Plain ES module, no build
// step, imported by verify.js and wallet.js.
//
// - Preferences in localStorage under the same keys on both pages (a language or large text
//   chosen on one holds on the other); when storage is refused they last one visit.
// - The language menu: a menu button with radio items (WAI-ARIA menu button pattern): the arrow
//   keys, Home/End and type-ahead move among the languages, Escape goes back to the button, Tab
//   or a click elsewhere closes it. The choice is remembered; <html>'s lang and dir follow it
//   (Uyghur is right-to-left).
// - The large-text toggle: a button with aria-pressed, class "large" on <html>.
// - The page's marked text (data-i18n, data-i18n-placeholder, -aria-label, -title) in the
//   page's language, and the polite live region (#live) for announcements.

import { DEFAULT_LANG, LANGS, langInfo, loadLang, lookup, normalizeLang, preferredLang, t as translate } from "/static/i18n.js";

export const PREFS = { lang: "certledger.verify.lang", large: "certledger.verify.large" }; // both pages'

/** Keep a preference (null removes it). */
export function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* storage may be unavailable (private mode): preferences then last one visit */
  }
}

export function recall(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/**
 * The header of a page whose `state` has `lang` and `large`. `titleKey` names the document's
 * title; `onLang()` renders the page's own text after the language changed.
 * Call `start(urlLang)` once the document is parsed: it sets large text and the language (the
 * URL's, else the remembered one, else the browser's first that we have, else DEFAULT_LANG) and
 * wires the controls. `langMenuOpen()` says whether the language menu is open.
 */
export function pageChrome({ state, titleKey, onLang }) {
  const $ = (id) => document.getElementById(id);
  const el = {};

  function tr(key, vars) {
    return translate(state.lang, key, vars);
  }

  /** Set node's text to key's string, marking the node with the language it came in when a
   * fallback was used (a key missing from the page's language). */
  function setText(node, key, vars) {
    node.textContent = tr(key, vars);
    const found = lookup(state.lang, key);
    if (found && found.lang !== state.lang) node.lang = found.lang;
    else node.removeAttribute("lang");
  }

  function announce(text) {
    el.live.textContent = "";
    if (text) setTimeout(() => (el.live.textContent = text), 60);
  }

  function applyLang() {
    const lang = state.lang;
    const info = langInfo(lang);
    document.documentElement.lang = lang;
    document.documentElement.dir = info ? info.dir : "ltr";
    document.title = tr(titleKey);
    for (const node of document.querySelectorAll("[data-i18n]")) setText(node, node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = tr(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", tr(node.dataset.i18nAriaLabel));
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = tr(node.dataset.i18nTitle);
    el.langCurrent.textContent = info ? info.name : lang;
    el.langCurrent.lang = lang;
    el.langCurrent.dir = info ? info.dir : "ltr";
    el.langButton.setAttribute("aria-label", tr("lang.button", { name: info ? info.name : lang }));
    el.langList.setAttribute("aria-label", tr("lang.menu"));
    for (const item of langItems()) item.setAttribute("aria-checked", item.dataset.lang === lang ? "true" : "false");
    el.live.textContent = ""; // an announcement in the other language is stale
    onLang();
  }

  async function setLang(lang, remember) {
    const code = normalizeLang(lang) || DEFAULT_LANG;
    try {
      await loadLang(code);
      state.lang = code;
    } catch {
      await loadLang(DEFAULT_LANG).catch(() => {});
      state.lang = DEFAULT_LANG;
    }
    if (remember) store(PREFS.lang, state.lang);
    applyLang();
  }

  function setLarge(on, remember) {
    state.large = !!on;
    document.documentElement.classList.toggle("large", state.large);
    el.contrastToggle.setAttribute("aria-pressed", state.large ? "true" : "false");
    if (remember) store(PREFS.large, state.large ? "1" : "0");
  }

  function buildLangMenu() {
    for (const l of LANGS) {
      const li = document.createElement("li");
      li.setAttribute("role", "none");
      const item = document.createElement("button");
      item.type = "button";
      item.className = "lang-item";
      item.setAttribute("role", "menuitemradio");
      item.setAttribute("aria-checked", "false");
      item.tabIndex = -1;
      item.lang = l.code;
      item.dir = l.dir;
      item.dataset.lang = l.code;
      item.dataset.testid = "lang-" + l.code;
      item.textContent = l.name;
      item.addEventListener("click", () => {
        closeLangMenu(true);
        if (l.code !== state.lang) setLang(l.code, true);
      });
      li.append(item);
      el.langList.append(li);
    }
  }

  function langItems() {
    return Array.from(el.langList.querySelectorAll("[role=menuitemradio]"));
  }

  function openLangMenu(which) {
    el.langList.hidden = false;
    el.langButton.setAttribute("aria-expanded", "true");
    const items = langItems();
    const checked = items.find((i) => i.dataset.lang === state.lang) || items[0];
    (which === "last" ? items[items.length - 1] : which === "first" ? items[0] : checked).focus();
  }

  function closeLangMenu(returnFocus) {
    if (el.langList.hidden) return;
    el.langList.hidden = true;
    el.langButton.setAttribute("aria-expanded", "false");
    if (returnFocus) el.langButton.focus();
  }

  function onLangMenuKey(e) {
    const items = langItems();
    const i = items.indexOf(document.activeElement);
    let next = null;
    if (e.key === "ArrowDown") next = items[(i + 1) % items.length];
    else if (e.key === "ArrowUp") next = items[(i - 1 + items.length) % items.length];
    else if (e.key === "Home") next = items[0];
    else if (e.key === "End") next = items[items.length - 1];
    else if (e.key === "Escape") {
      e.preventDefault();
      closeLangMenu(true);
      return;
    } else if (e.key === "Tab") {
      closeLangMenu(false);
      return;
    } else if (e.key.length === 1 && /\S/.test(e.key)) {
      // type-ahead on the language's own name or its code
      const k = e.key.toLowerCase();
      next = items.slice(i + 1).concat(items.slice(0, i + 1)).find((it) => it.textContent.toLowerCase().startsWith(k) || it.dataset.lang.toLowerCase().startsWith(k)) || null;
    }
    if (next) {
      e.preventDefault();
      next.focus();
    }
  }

  async function start(urlLang) {
    Object.assign(el, {
      langButton: $("lang-button"),
      langList: $("lang-list"),
      langCurrent: $("lang-current"),
      contrastToggle: $("contrast-toggle"),
      live: $("live"),
    });
    setLarge(recall(PREFS.large) === "1", false);
    const initialLang = normalizeLang(urlLang) || normalizeLang(recall(PREFS.lang))
      || preferredLang(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]) || DEFAULT_LANG;
    buildLangMenu();
    await setLang(initialLang, false);

    el.langButton.addEventListener("click", () => (el.langList.hidden ? openLangMenu() : closeLangMenu(true)));
    el.langButton.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        openLangMenu(e.key === "ArrowUp" ? "last" : null);
      }
    });
    el.langList.addEventListener("keydown", onLangMenuKey);
    document.addEventListener("pointerdown", (e) => {
      if (!el.langList.hidden && !e.target.closest(".lang-menu")) closeLangMenu(false);
    });
    el.contrastToggle.addEventListener("click", () => setLarge(!state.large, true));
  }

  const langMenuOpen = () => el.langList.hidden === false;

  return { tr, setText, announce, langMenuOpen, start };
}
