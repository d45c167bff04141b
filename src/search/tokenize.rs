//! How text becomes search terms, the same way for messages and queries.
//!
//! - Folding: compatibility forms are unfolded (full-width `Ａ` → `a`, `ﬁ` → `fi`, half-width
//!   katakana → katakana), letters lowercased, accents dropped (`é` → `e`, `Ä` → `a`, Vietnamese
//!   `ệ` → `e`) and a few letters without a decomposition mapped (`ß` → `ss`, `ø` → `o`, `ł` → `l`,
//!   `æ` → `ae`, final `ς` → `σ`).
//! - Words: runs of letters and digits of scripts that separate words with spaces (Latin, Greek,
//!   Cyrillic, Arabic, Hebrew, Devanagari, ...), combining marks kept inside the word. Everything
//!   else (spaces, punctuation, symbols, emoji) separates words and is not searchable.
//! - Scripts written without spaces (Han, Hiragana, Katakana, Hangul, Thai, Lao, Khmer, Myanmar)
//!   have no word boundaries to find, so a run of them becomes its overlapping pairs of characters
//!   (bigrams: `東京都` → `東京`, `京都`), or the character itself when the run is one character
//!   long. A query run becomes the same bigrams at consecutive positions, so it finds any
//!   occurrence of itself inside longer text (a substring match). Single characters are also
//!   indexed one by one in a field of their own ([`unigrams`]), for one-character queries.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

/// Longest term kept (bytes); longer "words" (hashes, base64) are skipped, not truncated.
const MAX_TERM_BYTES: usize = 80;

/// What a term stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A word of a spaced script.
    Word,
    /// Two adjacent characters of an unspaced script.
    Bigram,
    /// A run of one character of an unspaced script.
    Unigram,
}

/// One term with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The folded text.
    pub text: String,
    /// Byte range in the original text.
    pub from: usize,
    pub to: usize,
    /// Position (consecutive terms have consecutive positions).
    pub position: usize,
    pub kind: Kind,
}

/// What one character of the original text is to the tokenizer.
enum Class {
    /// Part of a word, folded to this text.
    Word(String),
    /// A character of an unspaced script, folded to this text.
    Unspaced(String),
    /// A combining mark: stays with the character before it (folded to this, often nothing).
    Mark(String),
    /// Separates terms.
    Break,
}

/// Whether `c` belongs to a script written without spaces between words.
pub fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF // Thai, Lao
        | 0x1000..=0x109F // Myanmar
        | 0x1100..=0x11FF // Hangul Jamo
        | 0x1780..=0x17FF // Khmer
        | 0x2E80..=0x2FDF // CJK radicals
        | 0x3005..=0x3007 // 々 〆 〇
        | 0x3021..=0x3029 // Hangzhou numerals
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3130..=0x318F // Hangul compatibility Jamo
        | 0x31F0..=0x31FF // Katakana extensions
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xA960..=0xA97F // Hangul Jamo extended A
        | 0xAC00..=0xD7FF // Hangul syllables, Jamo extended B
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF66..=0xFF9F // half-width Katakana
        | 0x20000..=0x3134F // CJK extensions B to G
    )
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Letters that fold to something without a Unicode decomposition.
fn fold_special(c: char, out: &mut String) {
    match c {
        'ß' => out.push_str("ss"),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'ø' => out.push('o'),
        'ł' => out.push('l'),
        'đ' | 'ð' => out.push('d'),
        'þ' => out.push_str("th"),
        'ı' => out.push('i'),
        'ς' => out.push('σ'),
        other => out.push(other),
    }
}

/// Classifies and folds one character of the original text.
fn classify(c: char) -> Class {
    if is_unspaced(c) && is_combining_mark(c) {
        // Thai vowel signs, kana voicing marks: part of the character before them.
        return Class::Mark(std::iter::once(c).nfkc().collect());
    }
    if is_unspaced(c) {
        // Hangul syllables stay whole (their decomposition is into jamo); the rest are unfolded
        // from compatibility forms (half-width katakana).
        let folded: String = if is_hangul_syllable(c) {
            c.to_string()
        } else {
            std::iter::once(c).nfkc().collect()
        };
        return Class::Unspaced(folded);
    }
    let mut folded = String::new();
    let mut any_kept = false;
    decompose_compatible(c, |d| {
        // Combining diacritical marks (U+0300..U+036F) are the accents of Latin, Greek and
        // Cyrillic letters; marks of other scripts carry meaning and stay.
        if ('\u{0300}'..='\u{036F}').contains(&d) {
            return;
        }
        if d.is_alphanumeric() || is_combining_mark(d) {
            any_kept = true;
            for l in d.to_lowercase() {
                fold_special(l, &mut folded);
            }
        }
    });
    if is_combining_mark(c) {
        // An accent alone (a decomposed `é`) folds to nothing and stays with its letter.
        return Class::Mark(folded);
    }
    if !any_kept {
        return Class::Break;
    }
    Class::Word(folded)
}

/// Builds terms while walking the text.
#[derive(Default)]
struct Builder {
    out: Vec<Term>,
    position: usize,
    word: Option<(String, usize, usize)>,
    /// The current run of unspaced characters: (folded, from, to) each.
    run: Vec<(String, usize, usize)>,
}

impl Builder {
    fn flush_word(&mut self) {
        if let Some((text, from, to)) = self.word.take() {
            if !text.is_empty() && text.len() <= MAX_TERM_BYTES {
                self.out.push(Term {
                    text,
                    from,
                    to,
                    position: self.position,
                    kind: Kind::Word,
                });
            }
            self.position += 1;
        }
    }

    fn flush_run(&mut self) {
        let run = std::mem::take(&mut self.run);
        match run.len() {
            0 => {}
            1 => {
                let (text, from, to) = run.into_iter().next().unwrap_or_default();
                self.out.push(Term {
                    text,
                    from,
                    to,
                    position: self.position,
                    kind: Kind::Unigram,
                });
                self.position += 1;
            }
            _ => {
                for pair in run.windows(2) {
                    self.out.push(Term {
                        text: format!("{}{}", pair[0].0, pair[1].0),
                        from: pair[0].1,
                        to: pair[1].2,
                        position: self.position,
                        kind: Kind::Bigram,
                    });
                    self.position += 1;
                }
            }
        }
    }

    fn flush(&mut self) {
        self.flush_word();
        self.flush_run();
    }
}

/// The terms of `text`, in order (see the module doc).
pub fn terms(text: &str) -> Vec<Term> {
    let mut b = Builder::default();
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        // Fast path (most text, and all of the write path's cost): ASCII folds to itself.
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                b.flush_run();
                let l = c.to_ascii_lowercase();
                match &mut b.word {
                    Some((text, _, to)) => {
                        text.push(l);
                        *to = end;
                    }
                    None => b.word = Some((l.to_string(), at, end)),
                }
            } else {
                b.flush();
            }
            continue;
        }
        match classify(c) {
            Class::Word(f) => {
                b.flush_run();
                match &mut b.word {
                    Some((text, _, to)) => {
                        text.push_str(&f);
                        *to = end;
                    }
                    None => b.word = Some((f, at, end)),
                }
            }
            Class::Unspaced(f) => {
                b.flush_word();
                b.run.push((f, at, end));
            }
            Class::Mark(f) => {
                if let Some((text, _, to)) = &mut b.word {
                    text.push_str(&f);
                    *to = end;
                } else if let Some((text, _, to)) = b.run.last_mut() {
                    text.push_str(&f);
                    *to = end;
                }
            }
            Class::Break => b.flush(),
        }
    }
    b.flush();
    b.out
}

/// Every character of an unspaced script in `text`, one term each (positions count them).
pub fn unigrams(text: &str) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    if text.is_ascii() {
        return out;
    }
    for (at, c) in text.char_indices() {
        if c.is_ascii() {
            continue;
        }
        let end = at + c.len_utf8();
        match classify(c) {
            Class::Unspaced(f) => out.push(Term {
                text: f,
                from: at,
                to: end,
                position: out.len(),
                kind: Kind::Unigram,
            }),
            Class::Mark(f) => {
                if let Some(last) = out.last_mut().filter(|t| t.to == at) {
                    last.text.push_str(&f);
                    last.to = end;
                }
            }
            _ => {}
        }
    }
    out
}

/// The tantivy tokenizer of the `body` field: [`terms`].
#[derive(Clone, Default)]
pub struct ChatTokenizer;

/// The tantivy tokenizer of the `chars` field: [`unigrams`].
#[derive(Clone, Default)]
pub struct UnigramTokenizer;

/// Terms handed to tantivy one by one.
pub struct Terms {
    terms: std::vec::IntoIter<Term>,
    token: Token,
}

impl Terms {
    fn new(terms: Vec<Term>) -> Self {
        Self {
            terms: terms.into_iter(),
            token: Token::default(),
        }
    }
}

impl TokenStream for Terms {
    fn advance(&mut self) -> bool {
        let Some(t) = self.terms.next() else {
            return false;
        };
        self.token = Token {
            offset_from: t.from,
            offset_to: t.to,
            position: t.position,
            text: t.text,
            position_length: 1,
        };
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

impl Tokenizer for ChatTokenizer {
    type TokenStream<'a> = Terms;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Terms {
        Terms::new(terms(text))
    }
}

impl Tokenizer for UnigramTokenizer {
    type TokenStream<'a> = Terms;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Terms {
        Terms::new(unigrams(text))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        terms(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_are_lowercased_and_accents_folded() {
        assert_eq!(
            texts("Crème Brûlée, ÇA va? Straße Ørsted"),
            ["creme", "brulee", "ca", "va", "strasse", "orsted"]
        );
        // Decomposed input (e + combining acute) folds the same as precomposed.
        assert_eq!(texts("cafe\u{301} café"), ["cafe", "cafe"]);
        assert_eq!(texts("ＡＢＣ ﬁne"), ["abc", "fine"]);
        assert_eq!(texts("Привет, МИР"), ["привет", "мир"]);
        assert_eq!(texts("Tiếng Việt"), ["tieng", "viet"]);
    }

    #[test]
    fn punctuation_and_syntax_separate_words() {
        assert_eq!(
            texts("field:value \"quoted\" a*b NEAR(x) 'or' 1=1; -- drop"),
            ["field", "value", "quoted", "a", "b", "near", "x", "or", "1", "1", "drop"]
        );
        assert_eq!(texts("🙂 *** ()"), Vec::<String>::new());
    }

    #[test]
    fn unspaced_scripts_become_bigrams_with_offsets() {
        let t = terms("東京都に行く");
        let got: Vec<(&str, &str)> = t
            .iter()
            .map(|t| (t.text.as_str(), &"東京都に行く"[t.from..t.to]))
            .collect();
        assert_eq!(
            got,
            [
                ("東京", "東京"),
                ("京都", "京都"),
                ("都に", "都に"),
                ("に行", "に行"),
                ("行く", "行く")
            ]
        );
        assert!(t.windows(2).all(|w| w[1].position == w[0].position + 1));
        assert_eq!(texts("iPhone買った"), ["iphone", "買っ", "った"]);
        assert_eq!(terms("猫")[0].kind, Kind::Unigram);
        assert_eq!(texts("한국어 공부"), ["한국", "국어", "공부"]);
    }

    #[test]
    fn unigrams_cover_every_unspaced_character() {
        let u: Vec<String> = unigrams("a東京 b").into_iter().map(|t| t.text).collect();
        assert_eq!(u, ["東", "京"]);
        // Half-width katakana unfold to the full-width ones.
        assert_eq!(texts("ｶﾀｶﾅ"), texts("カタカナ"));
    }

    #[test]
    fn long_junk_is_skipped_but_keeps_positions() {
        let long = "x".repeat(200);
        let t = terms(&format!("a {long} b"));
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].position, 2);
    }
}
