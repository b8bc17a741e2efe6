/**
 * The Unicode script of a code point, for the BPE trainer's piece-validity rule
 * (SentencePiece's `TrainerInterface::IsValidSentencePiece`: a piece may not mix two scripts;
 * src/data/bpe_trainer.ts applies the rule). The script comes from the engine's
 * `\p{Script=...}` tables; a script the engine does not know reads as Common.
 *
 * @module
 */

/**
 * The scripts told apart; {@link unicodeScript} returns an index into this list (0 Latin,
 * 1 Common, 2 Inherited, 5 Han, ...).
 */
export const UNICODE_SCRIPTS: readonly string[] = [
  "Latin",
  "Common",
  "Inherited",
  "Greek",
  "Cyrillic",
  "Han",
  "Hiragana",
  "Katakana",
  "Hangul",
  "Arabic",
  "Hebrew",
  "Thai",
  "Devanagari",
  "Armenian",
  "Georgian",
  "Bengali",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Gujarati",
  "Gurmukhi",
  "Oriya",
  "Sinhala",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Khmer",
  "Ethiopic",
  "Cherokee",
  "Mongolian",
  "Bopomofo",
  "Yi",
  "Syriac",
  "Thaana",
  "Nko",
  "Tifinagh",
  "Runic",
  "Ogham",
  "Braille",
  "Canadian_Aboriginal",
  "Coptic",
  "Glagolitic",
  "Gothic",
  "Javanese",
  "Balinese",
  "Sundanese",
  "Tagalog",
  "Vai",
  "Bamum",
  "Adlam",
  "Ahom",
  "Anatolian_Hieroglyphs",
  "Avestan",
  "Bassa_Vah",
  "Batak",
  "Bhaiksuki",
  "Brahmi",
  "Buginese",
  "Buhid",
  "Carian",
  "Caucasian_Albanian",
  "Chakma",
  "Cham",
  "Chorasmian",
  "Cuneiform",
  "Cypriot",
  "Cypro_Minoan",
  "Deseret",
  "Dives_Akuru",
  "Dogra",
  "Duployan",
  "Egyptian_Hieroglyphs",
  "Elbasan",
  "Elymaic",
  "Grantha",
  "Gunjala_Gondi",
  "Hanifi_Rohingya",
  "Hanunoo",
  "Hatran",
  "Imperial_Aramaic",
  "Inscriptional_Pahlavi",
  "Inscriptional_Parthian",
  "Kaithi",
  "Kawi",
  "Kayah_Li",
  "Kharoshthi",
  "Khitan_Small_Script",
  "Khojki",
  "Khudawadi",
  "Lepcha",
  "Limbu",
  "Linear_A",
  "Linear_B",
  "Lisu",
  "Lycian",
  "Lydian",
  "Mahajani",
  "Makasar",
  "Mandaic",
  "Manichaean",
  "Marchen",
  "Masaram_Gondi",
  "Medefaidrin",
  "Meetei_Mayek",
  "Mende_Kikakui",
  "Meroitic_Cursive",
  "Meroitic_Hieroglyphs",
  "Miao",
  "Modi",
  "Mro",
  "Multani",
  "Nabataean",
  "Nag_Mundari",
  "Nandinagari",
  "New_Tai_Lue",
  "Newa",
  "Nushu",
  "Nyiakeng_Puachue_Hmong",
  "Ol_Chiki",
  "Old_Hungarian",
  "Old_Italic",
  "Old_North_Arabian",
  "Old_Permic",
  "Old_Persian",
  "Old_Sogdian",
  "Old_South_Arabian",
  "Old_Turkic",
  "Old_Uyghur",
  "Osage",
  "Osmanya",
  "Pahawh_Hmong",
  "Palmyrene",
  "Pau_Cin_Hau",
  "Phags_Pa",
  "Phoenician",
  "Psalter_Pahlavi",
  "Rejang",
  "Samaritan",
  "Saurashtra",
  "Sharada",
  "Shavian",
  "Siddham",
  "SignWriting",
  "Sogdian",
  "Sora_Sompeng",
  "Soyombo",
  "Syloti_Nagri",
  "Tagbanwa",
  "Tai_Le",
  "Tai_Tham",
  "Tai_Viet",
  "Takri",
  "Tangsa",
  "Tangut",
  "Tirhuta",
  "Toto",
  "Ugaritic",
  "Vithkuqi",
  "Wancho",
  "Warang_Citi",
  "Yezidi",
  "Zanabazar_Square",
];
let _scriptRes: [number, RegExp][] | null = null;
const _scriptCache = new Map<number, number>();
/** Index of the Common script (also what unassigned code points read as). */
export const SCRIPT_COMMON = 1;
/** Index of the Inherited script (combining marks: they take the script before them). */
export const SCRIPT_INHERITED = 2;
/** Index of Han. */
export const SCRIPT_HAN = 5;
/** Index of Hiragana. */
export const SCRIPT_HIRAGANA = 6;
/** Index of Katakana. */
export const SCRIPT_KATAKANA = 7;

/** Index into {@link UNICODE_SCRIPTS} of a code point's Unicode script (unassigned -> Common). */
export function unicodeScript(cp: number): number {
  if (cp < 0x80) {
    return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? 0 : SCRIPT_COMMON;
  }
  let s = _scriptCache.get(cp);
  if (s !== undefined) return s;
  if (_scriptRes === null) {
    _scriptRes = [];
    for (let i = 0; i < UNICODE_SCRIPTS.length; i++) {
      try {
        _scriptRes.push([i, new RegExp(`^\\p{Script=${UNICODE_SCRIPTS[i]}}$`, "u")]);
      } catch {
        // a script this engine's Unicode version does not know: its characters read as Common
      }
    }
  }
  const ch = String.fromCodePoint(cp);
  s = SCRIPT_COMMON;
  for (const [i, re] of _scriptRes) {
    if (re.test(ch)) {
      s = i;
      break;
    }
  }
  _scriptCache.set(cp, s);
  return s;
}
