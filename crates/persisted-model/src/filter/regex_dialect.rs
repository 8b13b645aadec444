//! The `regexp` operator's dialect: a portable subset of regular expressions, checked once in
//! Rust and rewritten into one canonical pattern that PostgreSQL (AREs), MySQL (ICU), MariaDB
//! (PCRE2) and SQLite (Rust's `regex`, registered by the connection) all read the same way.
//!
//! Supported: literals, `.`, `^` and `$`, groups `( )` and `(?: )`, alternation `|`,
//! quantifiers `* + ? {n} {n,} {n,m}` (counts up to 255; lazy forms match the same rows),
//! bracket classes `[a-z]`, `[^...]` with POSIX classes `[[:alpha:]]`, and `\d \w \s` (and
//! their negations) with their ASCII meanings. Refused with a 400, because the back ends
//! disagree or it can be made to consume the database: back-references, look-around, inline
//! flags, Unicode classes, word boundaries, `\A`/`\z`, nested quantifiers without a group, a
//! quantifier on an anchor (`^*`, `a$+b`), an unbounded quantifier inside a repeated group
//! (`(a+)+`, `(.*a){20}`: backtracking engines take exponential time on them), and patterns that
//! expand to more than [`MAX_EXPANSION`] atoms.
//!
//! Case-insensitive patterns (`/.../i`) are not left to each database's own folding, which
//! differ (PostgreSQL's `~*` does not match `ς` with `σ`, PCRE2 and Rust match the Kelvin sign
//! `K` with `k`): [`case_folded`] spells every letter out as the class of the characters
//! JavaScript's `/i` matches it with, and the pattern goes to every back end case-sensitive.

use regex_syntax::ast::{
    self, Ast, ClassAsciiKind, ClassPerl, ClassPerlKind, ClassSet, ClassSetItem, GroupKind, RepetitionKind,
    RepetitionRange,
};

/// Largest count in `{n,m}` (PostgreSQL's limit).
pub const MAX_COUNT: u32 = 255;
/// Largest number of atoms a pattern may stand for once counted repetitions are expanded.
pub const MAX_EXPANSION: u64 = 1000;

/// The canonical form of a client's pattern, or why it is refused.
pub fn portable_pattern(pattern: &str) -> Result<String, String> {
    if pattern.contains('\0') {
        return Err("the pattern contains a NUL character".into());
    }
    let ast =
        ast::parse::Parser::new().parse(pattern).map_err(|e| format!("invalid regular expression: {}", e.kind()))?;
    let mut out = String::with_capacity(pattern.len() + 8);
    let size = emit(&ast, &mut out, Fold::None)?;
    if size > MAX_EXPANSION {
        return Err(format!("the pattern is too complex (it expands to more than {MAX_EXPANSION} atoms)"));
    }
    check_nesting(&ast, false)?;
    Ok(out)
}

/// A canonical pattern (from [`portable_pattern`]) made case-insensitive by itself: every
/// letter becomes the class of the letters JavaScript's `/i` matches it with (`k` → `[Kk]`,
/// `σ` → `[Σςσ]`), so that it is matched case-sensitively, alike, on every back end.
pub fn case_folded(canonical: &str) -> String {
    let Ok(ast) = ast::parse::Parser::new().parse(canonical) else { return canonical.to_owned() };
    let mut out = String::with_capacity(canonical.len() * 2);
    match emit(&ast, &mut out, Fold::LikeJavaScript) {
        Ok(_) => out,
        Err(_) => canonical.to_owned(),
    }
}

/// A LIKE pattern (`%`, `_`, `\` escapes) as an anchored regular expression in which `.`
/// matches any character, with letters spelled out under `fold`; matched case-sensitively.
pub(crate) fn like_regex(pattern: &str, fold: Fold) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    out.push('^');
    let mut chars = pattern.chars();
    let push = |c: char, out: &mut String| {
        let all = variants(c, fold);
        if all.len() == 1 {
            out.push_str(&regex_syntax::escape(c.encode_utf8(&mut [0u8; 4])));
        } else {
            out.push('[');
            for v in all {
                out.push_str(&regex_syntax::escape(v.encode_utf8(&mut [0u8; 4])));
            }
            out.push(']');
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '\\' => push(chars.next().unwrap_or('\\'), &mut out),
            other => push(other, &mut out),
        }
    }
    out.push('$');
    out
}

/// Whether, and how, letters are spelled out with their other cases.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// As written.
    None,
    /// As JavaScript's `/i` (without `u`) compares: two characters match when their upper
    /// cases are equal, except that no character outside ASCII matches one inside (the
    /// Kelvin sign and the long s stay themselves).
    LikeJavaScript,
    /// As SQL's `LOWER(a) = LOWER(b)` compares (PostgreSQL's `ILIKE`): two characters match
    /// when their lower cases are equal (`Σ` with `σ`, not with `ς`).
    Lower,
}

/// The characters that match `c` under `fold`, `c` first, at most a handful.
pub(crate) fn variants(c: char, fold: Fold) -> Vec<char> {
    use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};
    let mut out = vec![c];
    if fold == Fold::None {
        return out;
    }
    let mut orbit = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    orbit.case_fold_simple();
    let key = |x: char| -> String {
        match fold {
            Fold::Lower => x.to_lowercase().collect(),
            _ => {
                let upper: String = x.to_uppercase().collect();
                let mut chars = upper.chars();
                match (chars.next(), chars.next()) {
                    (Some(u), None) if !(x as u32 >= 128 && (u as u32) < 128) => u.to_string(),
                    _ => x.to_string(),
                }
            }
        }
    };
    let wanted = key(c);
    for range in orbit.iter() {
        for x in range.start()..=range.end() {
            if x != c && key(x) == wanted {
                out.push(x);
            }
        }
    }
    out
}

/// Refuses an unbounded quantifier (`*`, `+`, `{n,}`) inside a group that is itself repeated
/// (any quantifier but `?`): `(a+)+`, `(a*)*`, `(.*a){20}` make backtracking engines (PCRE2,
/// PostgreSQL's for back-references) try exponentially many ways to split a long value.
fn check_nesting(ast: &Ast, inside_repetition: bool) -> Result<(), String> {
    match ast {
        Ast::Repetition(r) => {
            let unbounded = matches!(
                r.op.kind,
                RepetitionKind::ZeroOrMore
                    | RepetitionKind::OneOrMore
                    | RepetitionKind::Range(RepetitionRange::AtLeast(_))
            );
            if unbounded && inside_repetition {
                return Err("an unbounded quantifier (*, + or {n,}) inside a repeated group is not supported in regexp: it can take exponential time".into());
            }
            let repeats = !matches!(
                r.op.kind,
                RepetitionKind::ZeroOrOne
                    | RepetitionKind::Range(RepetitionRange::Exactly(0 | 1))
                    | RepetitionKind::Range(RepetitionRange::Bounded(_, 0 | 1))
            );
            check_nesting(&r.ast, inside_repetition || repeats)
        }
        Ast::Group(g) => check_nesting(&g.ast, inside_repetition),
        Ast::Alternation(alt) => alt.asts.iter().try_for_each(|a| check_nesting(a, inside_repetition)),
        Ast::Concat(concat) => concat.asts.iter().try_for_each(|a| check_nesting(a, inside_repetition)),
        _ => Ok(()),
    }
}

fn unsupported(what: &str) -> Result<u64, String> {
    Err(format!("{what} are not supported in regexp"))
}

/// Writes the canonical form of `ast` (letters spelled out with their other cases under
/// `fold`); returns how many atoms it expands to.
fn emit(ast: &Ast, out: &mut String, fold: Fold) -> Result<u64, String> {
    match ast {
        Ast::Empty(_) => Ok(0),
        Ast::Flags(_) => unsupported("inline flags (use /pattern/i)"),
        Ast::Literal(lit) => {
            let all = variants(lit.c, fold);
            if all.len() == 1 {
                push_literal(lit.c, out)?;
            } else {
                out.push('[');
                for c in all {
                    push_class_literal(c, out)?;
                }
                out.push(']');
            }
            Ok(1)
        }
        Ast::Dot(_) => {
            out.push('.');
            Ok(1)
        }
        Ast::Assertion(a) => match a.kind {
            ast::AssertionKind::StartLine => {
                out.push('^');
                Ok(0)
            }
            ast::AssertionKind::EndLine => {
                out.push('$');
                Ok(0)
            }
            _ => unsupported("word boundaries and \\A, \\z"),
        },
        Ast::ClassUnicode(_) => unsupported("Unicode classes (\\p{...})"),
        Ast::ClassPerl(c) => {
            out.push('[');
            if c.negated {
                out.push('^');
            }
            out.push_str(perl_class(c));
            out.push(']');
            Ok(1)
        }
        Ast::ClassBracketed(c) => {
            out.push('[');
            if c.negated {
                out.push('^');
            }
            let before = out.len();
            class_set(&c.kind, out, fold)?;
            if out.len() == before {
                return Err("an empty character class matches nothing".into());
            }
            out.push(']');
            Ok(1)
        }
        Ast::Repetition(r) => {
            if matches!(*r.ast, Ast::Repetition(_)) {
                return Err("a quantifier cannot follow another quantifier without a group".into());
            }
            let inner = emit(&r.ast, out, fold)?;
            if inner == 0 {
                return Err(
                    "a quantifier must follow something that matches a character (not an anchor such as ^ or $)".into(),
                );
            }
            let (text, factor) = match &r.op.kind {
                RepetitionKind::ZeroOrOne => ("?".to_owned(), 1),
                RepetitionKind::ZeroOrMore => ("*".to_owned(), 1),
                RepetitionKind::OneOrMore => ("+".to_owned(), 1),
                RepetitionKind::Range(range) => {
                    let (text, most) = match *range {
                        RepetitionRange::Exactly(n) => (format!("{{{n}}}"), n),
                        RepetitionRange::AtLeast(n) => (format!("{{{n},}}"), n.max(1)),
                        RepetitionRange::Bounded(n, m) => (format!("{{{n},{m}}}"), m),
                    };
                    if most > MAX_COUNT {
                        return Err(format!("repetition counts above {MAX_COUNT} are not supported"));
                    }
                    (text, u64::from(most))
                }
            };
            out.push_str(&text);
            Ok(inner.saturating_mul(factor))
        }
        Ast::Group(g) => {
            match &g.kind {
                GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => out.push('('),
                GroupKind::NonCapturing(flags) if flags.items.is_empty() => out.push_str("(?:"),
                GroupKind::NonCapturing(_) => return unsupported("inline flags (use /pattern/i)"),
            }
            let size = emit(&g.ast, out, fold)?;
            out.push(')');
            Ok(size)
        }
        Ast::Alternation(alt) => {
            let mut size = 0u64;
            for (i, branch) in alt.asts.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                size = size.saturating_add(emit(branch, out, fold)?);
            }
            Ok(size)
        }
        Ast::Concat(concat) => {
            let mut size = 0u64;
            for part in &concat.asts {
                size = size.saturating_add(emit(part, out, fold)?);
            }
            Ok(size)
        }
    }
}

/// Characters escaped outside a class: every one special to any of the dialects. (Escapes such
/// as `\x41` or `\n` were already turned into the character itself.)
const SPECIAL: &str = "\\.^$|?*+()[]{}";
/// Characters escaped inside a bracket class: what any dialect treats as special there (all
/// four read `\` + punctuation as the character itself).
const CLASS_SPECIAL: &str = "\\[]^-&~";

fn push_literal(c: char, out: &mut String) -> Result<(), String> {
    push_escaped(c, SPECIAL, out)
}

fn push_class_literal(c: char, out: &mut String) -> Result<(), String> {
    push_escaped(c, CLASS_SPECIAL, out)
}

fn push_escaped(c: char, special: &str, out: &mut String) -> Result<(), String> {
    if c == '\0' {
        return Err("the pattern contains a NUL character".into());
    }
    if special.contains(c) {
        out.push('\\');
    }
    out.push(c);
    Ok(())
}

/// `\d`, `\w`, `\s` with their ASCII meanings, as bracket class contents.
fn perl_class(c: &ClassPerl) -> &'static str {
    match c.kind {
        ClassPerlKind::Digit => "0-9",
        ClassPerlKind::Word => "0-9A-Za-z_",
        ClassPerlKind::Space => "\t\n\u{b}\u{c}\r ",
    }
}

fn class_set(set: &ClassSet, out: &mut String, fold: Fold) -> Result<(), String> {
    match set {
        ClassSet::Item(item) => class_item(item, out, fold),
        ClassSet::BinaryOp(_) => Err("class set operations (&&, --, ~~) are not supported in regexp".into()),
    }
}

fn class_item(item: &ClassSetItem, out: &mut String, fold: Fold) -> Result<(), String> {
    match item {
        ClassSetItem::Empty(_) => Ok(()),
        ClassSetItem::Literal(lit) => variants(lit.c, fold).into_iter().try_for_each(|c| push_class_literal(c, out)),
        ClassSetItem::Range(range) => {
            push_class_literal(range.start.c, out)?;
            out.push('-');
            push_class_literal(range.end.c, out)?;
            if fold != Fold::None {
                other_cases(range.start.c, range.end.c, fold, out)?;
            }
            Ok(())
        }
        ClassSetItem::Ascii(ascii) if !ascii.negated => {
            out.push_str(ascii_class(&ascii.kind));
            Ok(())
        }
        ClassSetItem::Perl(perl) if !perl.negated => {
            out.push_str(perl_class(perl));
            Ok(())
        }
        ClassSetItem::Ascii(_) | ClassSetItem::Perl(_) => {
            Err("negated classes inside a bracket class are not supported in regexp".into())
        }
        ClassSetItem::Unicode(_) => Err("Unicode classes (\\p{...}) are not supported in regexp".into()),
        ClassSetItem::Bracketed(_) => Err("nested bracket classes are not supported in regexp".into()),
        ClassSetItem::Union(union) => union.items.iter().try_for_each(|i| class_item(i, out, fold)),
    }
}

/// The letters outside `start..=end` that `fold` matches with a letter inside it: Unicode's
/// simple case folding of the range, less the range (at most the few thousand letters that
/// have other cases, however wide the range), each kept when `fold` agrees.
fn other_cases(start: char, end: char, fold: Fold, out: &mut String) -> Result<(), String> {
    use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};
    let mut folded = ClassUnicode::new([ClassUnicodeRange::new(start, end)]);
    folded.case_fold_simple();
    let inside = |c: char| (start..=end).contains(&c);
    for r in folded.iter() {
        let below = (r.start() < start).then(|| (r.start(), char::from_u32(u32::from(start) - 1).unwrap_or(start)));
        let above = (r.end() > end).then(|| (char::from_u32(u32::from(end) + 1).unwrap_or(end), r.end()));
        for (from, to) in below.into_iter().chain(above) {
            for c in (u32::from(from.max(r.start()))..=u32::from(to.min(r.end()))).filter_map(char::from_u32) {
                if !inside(c) && variants(c, fold).into_iter().skip(1).any(inside) {
                    push_class_literal(c, out)?;
                }
            }
        }
    }
    Ok(())
}

/// POSIX classes spelled out as ranges, so every back end reads them as ASCII.
fn ascii_class(kind: &ClassAsciiKind) -> &'static str {
    match kind {
        ClassAsciiKind::Alnum => "0-9A-Za-z",
        ClassAsciiKind::Alpha => "A-Za-z",
        ClassAsciiKind::Ascii => "\u{1}-\u{7f}",
        ClassAsciiKind::Blank => "\t ",
        ClassAsciiKind::Cntrl => "\u{1}-\u{1f}\u{7f}",
        ClassAsciiKind::Digit => "0-9",
        ClassAsciiKind::Graph => "!-~",
        ClassAsciiKind::Lower => "a-z",
        ClassAsciiKind::Print => " -~",
        ClassAsciiKind::Punct => "!-/:-@\\[-`{-~",
        ClassAsciiKind::Space => "\t\n\u{b}\u{c}\r ",
        ClassAsciiKind::Upper => "A-Z",
        ClassAsciiKind::Word => "0-9A-Za-z_",
        ClassAsciiKind::Xdigit => "0-9A-Fa-f",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_patterns_are_canonical() {
        assert_eq!(portable_pattern("^wid.et$").unwrap(), "^wid.et$");
        assert_eq!(portable_pattern(r"\d+\.\d{2}").unwrap(), r"[0-9]+\.[0-9]{2}");
        assert_eq!(portable_pattern(r"[[:alpha:]_-]").unwrap(), r"[A-Za-z_\-]");
        assert_eq!(portable_pattern(r"(?:a|b)*?c").unwrap(), "(?:a|b)*c");
        assert_eq!(portable_pattern(r"\x41\.").unwrap(), r"A\.");
        assert_eq!(portable_pattern("école").unwrap(), "école");
        assert_eq!(portable_pattern(r"(?P<n>x)").unwrap(), "(x)");
    }

    #[test]
    fn what_the_back_ends_disagree_on_is_refused() {
        for bad in [
            "(",
            "*",
            "[",
            "\\",
            "a{1000}{1000}",
            r"\p{Foo}",
            r"\pL",
            r"(?<=a)b",
            r"(a)\1",
            r"(?i)a",
            r"\bword",
            r"\Aa",
            "a{256}",
            "((a{40}){40})",
            "[a&&b]",
            "[^\\D]",
            "a**",
            // Quantified anchors (PostgreSQL and MariaDB answered them with a 500).
            "^*",
            "$+",
            "x^*",
            "a$+b",
            "(^)*",
            "(?:$|^){2}",
            // Nested unbounded quantifiers: exponential backtracking.
            "(a+)+",
            "(a*)*b",
            "(.*a){20}",
            "((ab)*c)+",
            "(a|b+){2,}",
        ] {
            assert!(portable_pattern(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(portable_pattern("((a{20}){20})").is_ok());
        for fine in ["(a+)?", "(ab)+c*", "(a{1,3}){2}", "^a.*b$", "(?:x|y)+z", "(a+){1}"] {
            assert!(portable_pattern(fine).is_ok(), "{fine:?} should be accepted");
        }
    }

    #[test]
    fn case_insensitive_patterns_spell_their_letters_out_as_javascript_matches_them() {
        assert_eq!(case_folded("^wid"), "^[wW][iI][dD]");
        // JavaScript's /k/i does not match the Kelvin sign (nor /s/i the long s), but /σ/i
        // matches the final sigma.
        assert_eq!(case_folded("k"), "[kK]");
        assert_eq!(case_folded("\u{212A}"), "\u{212A}");
        assert_eq!(case_folded("σ"), "[σΣς]");
        assert_eq!(case_folded("[a-c]"), "[a-cABC]");
        // However wide the range: the letters of other cases it lacks are added.
        assert!(regex::Regex::new(&case_folded("^[a-\u{4ff}]$")).unwrap().is_match("A"));
        assert!(!regex::Regex::new(&case_folded("^[a-\u{4ff}]$")).unwrap().is_match("\u{212A}"));
        assert_eq!(case_folded("[^x]1"), "[^xX]1");
        assert_eq!(case_folded("\\.[0-9]"), "\\.[0-9]");
        let re = regex::Regex::new(&format!("^{}$", case_folded("straße σοφία"))).unwrap();
        assert!(re.is_match("STRAßE ΣΟΦΊΑ") || re.is_match("STRAßE ΣΟΦΙΑ") || re.is_match("Straße σοφία"));
        assert!(re.is_match("STRAßE ΣΟΦΊΑ".to_lowercase().as_str()));
        assert!(!regex::Regex::new(&case_folded("k")).unwrap().is_match("\u{212A}"));
    }

    #[test]
    fn lower_case_folding_matches_as_sql_lower_does() {
        assert_eq!(variants('σ', Fold::Lower), vec!['σ', 'Σ']);
        assert_eq!(variants('ς', Fold::Lower), vec!['ς']);
        assert_eq!(variants('k', Fold::Lower), vec!['k', 'K', '\u{212A}']);
    }
}
