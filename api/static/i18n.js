// CertLedger verification page: languages. Plain ES module, no build step.
//
// Every language has one file, /static/i18n/<code>.json:
//   {"lang", "name" (its own name), "dir" ("ltr"|"rtl"), "reviewed" (has a native speaker
//    checked it?), "note", "strings": {key: text}, "regions": {code: name}}
// Strings use {name} placeholders. In verdict words "|" marks where a line may break.
// A key missing from a file falls back to Simplified Chinese, then English; the caller learns
// which language it got, so that the text can carry the right lang attribute.

export const LANGS = [
  { code: "zh-CN", name: "简体中文", dir: "ltr" },
  { code: "en", name: "English", dir: "ltr" },
  { code: "ug", name: "ئۇيغۇرچە", dir: "rtl" },
  { code: "bo", name: "བོད་ཡིག", dir: "ltr" },
  { code: "mn-Mong", name: "ᠮᠣᠩᠭᠣᠯ", dir: "ltr" },
  { code: "ko", name: "조선어", dir: "ltr" },
  { code: "za", name: "Vahcuengh", dir: "ltr" },
];
export const DEFAULT_LANG = "zh-CN";
const FALLBACKS = ["zh-CN", "en"];

const dicts = new Map(); // code -> loaded file
const loading = new Map(); // code -> Promise

export function langInfo(code) {
  return LANGS.find((l) => l.code === code) || null;
}

/** One of our language codes for a BCP 47 tag, or null. */
export function normalizeLang(value) {
  if (!value) return null;
  const v = String(value).trim().toLowerCase().replace(/_/g, "-");
  if (!v) return null;
  const exact = LANGS.find((l) => l.code.toLowerCase() === v);
  if (exact) return exact.code;
  const primary = v.split("-")[0];
  if (primary === "zh") return "zh-CN";
  if (primary === "mn") return "mn-Mong"; // the only Mongolian here is the traditional script
  if (primary === "ug" || primary === "uig") return "ug";
  if (primary === "bo" || primary === "tib" || primary === "bod") return "bo";
  if (primary === "ko" || primary === "kor") return "ko";
  if (primary === "za" || primary === "zha") return "za";
  if (primary === "en") return "en";
  return null;
}

/** The first of the browser's preferred languages that we have, or null. */
export function preferredLang(list) {
  for (const tag of list || []) {
    const code = normalizeLang(tag);
    if (code) return code;
  }
  return null;
}

/** Load a language file (and the fallbacks) once; resolves to the file's contents. */
export function loadLang(code) {
  const wanted = [code, ...FALLBACKS.filter((c) => c !== code)];
  return Promise.all(wanted.map(loadOne)).then(() => dicts.get(code));
}

function loadOne(code) {
  if (dicts.has(code)) return Promise.resolve(dicts.get(code));
  if (!loading.has(code)) {
    const p = fetch(`/static/i18n/${code}.json`, { headers: { Accept: "application/json" } })
      .then((r) => {
        if (!r.ok) throw new Error(`language file ${code}: HTTP ${r.status}`);
        return r.json();
      })
      .then((data) => {
        dicts.set(code, data);
        return data;
      })
      .finally(() => loading.delete(code));
    loading.set(code, p);
  }
  return loading.get(code);
}

export function loaded(code) {
  return dicts.get(code) || null;
}

/** {text, lang} for key: from lang's file, else a fallback's (lang tells which), else null. */
export function lookup(lang, key) {
  for (const code of [lang, ...FALLBACKS]) {
    const d = dicts.get(code);
    if (d && d.strings && Object.prototype.hasOwnProperty.call(d.strings, key)) return { text: d.strings[key], lang: code };
  }
  return null;
}

export function has(lang, key) {
  return lookup(lang, key) !== null;
}

/** The string for key with {name} placeholders filled from vars; "|" marks removed. */
export function t(lang, key, vars) {
  const found = lookup(lang, key);
  let s = found ? found.text : key;
  s = s.replace(/\|/g, "");
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars && vars[k] !== undefined && vars[k] !== null ? String(vars[k]) : m));
  return s;
}

/** A verdict word split where a line may break. */
export function segments(lang, key) {
  const found = lookup(lang, key);
  return (found ? found.text : key).split("|");
}

/** A region's name from one language's file, or null. */
export function regionFromFile(lang, code) {
  const d = dicts.get(lang);
  const name = d && d.regions && d.regions[String(code)];
  return name ? String(name) : null;
}
