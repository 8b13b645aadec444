//! The `regexp` operator's dialect: a portable subset of regular expressions, checked once in
//! Rust and rewritten into one canonical pattern that PostgreSQL (AREs), MySQL (ICU), MariaDB
//! (PCRE2) and SQLite (Rust's `regex`, registered by the connection) all read the same way.
//!
//! Supported: literals, `.`, `^` and `$`, groups `( )` and `(?: )`, alternation `|`,
//! quantifiers `* + ? {n} {n,} {n,m}` (counts up to 255; lazy forms match the same rows),
//! bracket classes `[a-z]`, `[^...]` with POSIX classes `[[:alpha:]]`, and `\d \w \s` (and
//! their negations) with their ASCII meanings. Refused with a 400, because the back ends
//! disagree or it can be made to consume the database: back-references, look-around, inline
//! flags, Unicode classes, word boundaries, `\A`/`\z`, nested quantifiers without a group, and
//! patterns that expand to more than [`MAX_EXPANSION`] atoms.

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
    let size = emit(&ast, &mut out)?;
    if size > MAX_EXPANSION {
        return Err(format!("the pattern is too complex (it expands to more than {MAX_EXPANSION} atoms)"));
    }
    Ok(out)
}

fn unsupported(what: &str) -> Result<u64, String> {
    Err(format!("{what} are not supported in regexp"))
}

/// Writes the canonical form of `ast`; returns how many atoms it expands to.
fn emit(ast: &Ast, out: &mut String) -> Result<u64, String> {
    match ast {
        Ast::Empty(_) => Ok(0),
        Ast::Flags(_) => unsupported("inline flags (use /pattern/i)"),
        Ast::Literal(lit) => {
            push_literal(lit.c, out)?;
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
            class_set(&c.kind, out)?;
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
            let inner = emit(&r.ast, out)?;
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
            Ok(inner.max(1).saturating_mul(factor))
        }
        Ast::Group(g) => {
            match &g.kind {
                GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => out.push('('),
                GroupKind::NonCapturing(flags) if flags.items.is_empty() => out.push_str("(?:"),
                GroupKind::NonCapturing(_) => return unsupported("inline flags (use /pattern/i)"),
            }
            let size = emit(&g.ast, out)?;
            out.push(')');
            Ok(size)
        }
        Ast::Alternation(alt) => {
            let mut size = 0u64;
            for (i, branch) in alt.asts.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                size = size.saturating_add(emit(branch, out)?);
            }
            Ok(size)
        }
        Ast::Concat(concat) => {
            let mut size = 0u64;
            for part in &concat.asts {
                size = size.saturating_add(emit(part, out)?);
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

fn class_set(set: &ClassSet, out: &mut String) -> Result<(), String> {
    match set {
        ClassSet::Item(item) => class_item(item, out),
        ClassSet::BinaryOp(_) => Err("class set operations (&&, --, ~~) are not supported in regexp".into()),
    }
}

fn class_item(item: &ClassSetItem, out: &mut String) -> Result<(), String> {
    match item {
        ClassSetItem::Empty(_) => Ok(()),
        ClassSetItem::Literal(lit) => push_class_literal(lit.c, out),
        ClassSetItem::Range(range) => {
            push_class_literal(range.start.c, out)?;
            out.push('-');
            push_class_literal(range.end.c, out)
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
        ClassSetItem::Union(union) => union.items.iter().try_for_each(|i| class_item(i, out)),
    }
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
        ] {
            assert!(portable_pattern(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(portable_pattern("((a{20}){20})").is_ok());
    }
}
