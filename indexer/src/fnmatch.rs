//! Shell-style pattern matching with the semantics of Python's `fnmatch.fnmatchcase`, which
//! Gnocchi uses for archive policy rules (shared/spec/engine.md §1.4): `*` matches any run of
//! characters (including none), `?` one character, `[seq]` one character of the set and
//! `[!seq]` one character outside it. Matching is case-sensitive, covers the whole name, and
//! `/`, `.` and `\` are ordinary characters.

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyOne => true,
            // Runs are handled by the matcher, never asked to match one character.
            Token::AnyRun => false,
            Token::Set { negated, ranges } => {
                let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
                inside != *negated
            }
        }
    }
}

/// Compiles `pattern` the way Python's `fnmatch.translate` reads it.
fn compile(pattern: &str) -> Vec<Token> {
    let pat: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < pat.len() {
        let c = pat[i];
        i += 1;
        match c {
            '*' => {
                // Consecutive stars mean the same as one.
                if out.last() != Some(&Token::AnyRun) {
                    out.push(Token::AnyRun);
                }
            }
            '?' => out.push(Token::AnyOne),
            '[' => {
                // Find the closing bracket: a `]` right after `[` or `[!` is a member.
                let mut j = i;
                if j < pat.len() && pat[j] == '!' {
                    j += 1;
                }
                if j < pat.len() && pat[j] == ']' {
                    j += 1;
                }
                while j < pat.len() && pat[j] != ']' {
                    j += 1;
                }
                if j >= pat.len() {
                    // Unterminated: the bracket is an ordinary character.
                    out.push(Token::Literal('['));
                    continue;
                }
                let mut body = &pat[i..j];
                i = j + 1;
                let negated = body.first() == Some(&'!');
                if negated {
                    body = &body[1..];
                }
                out.push(Token::Set {
                    negated,
                    ranges: parse_set(body),
                });
            }
            c => out.push(Token::Literal(c)),
        }
    }
    out
}

/// The members of a bracket expression: single characters and `a-z` ranges. A `-` first or
/// last is literal; a reversed range (`z-a`) matches nothing, as in Python.
fn parse_set(body: &[char]) -> Vec<(char, char)> {
    let mut ranges = Vec::new();
    let mut k = 0;
    while k < body.len() {
        let lo = body[k];
        if k + 2 < body.len() && body[k + 1] == '-' {
            let hi = body[k + 2];
            if lo <= hi {
                ranges.push((lo, hi));
            }
            k += 3;
        } else {
            ranges.push((lo, lo));
            k += 1;
        }
    }
    ranges
}

/// Whether `name` matches the shell-style `pattern` as a whole.
pub(crate) fn fnmatch(name: &str, pattern: &str) -> bool {
    let tokens = compile(pattern);
    let name: Vec<char> = name.chars().collect();
    // Greedy matching with backtracking to the last `*`: linear in practice, and correct
    // because every other token consumes exactly one character.
    let (mut t, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match tokens.get(t) {
            Some(Token::AnyRun) => {
                backtrack = Some((t, n));
                t += 1;
            }
            Some(tok) if tok.matches(name[n]) => {
                t += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((star_t, star_n)) => {
                    // Let the last star swallow one more character and retry.
                    backtrack = Some((star_t, star_n + 1));
                    t = star_t + 1;
                    n = star_n + 1;
                }
                None => return false,
            },
        }
    }
    tokens[t..].iter().all(|tok| *tok == Token::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn stars_and_question_marks() {
        assert!(fnmatch("", "*"));
        assert!(fnmatch("disk.io.rate", "*"));
        assert!(fnmatch("disk.io.rate", "disk.*"));
        assert!(fnmatch("disk.", "disk.*"));
        assert!(!fnmatch("disk", "disk.*"));
        assert!(!fnmatch("mydisk.io", "disk.*"));
        assert!(fnmatch("disk.io.rate", "*.rate"));
        assert!(fnmatch("disk.io.rate", "d*k*e"));
        assert!(fnmatch("cpu", "c?u"));
        assert!(!fnmatch("cu", "c?u"));
        assert!(!fnmatch("cpuu", "c?u"));
        assert!(fnmatch("a/b", "a?b"), "slash is not special");
        assert!(fnmatch("a/b/c", "a*c"));
        assert!(!fnmatch("Disk.io", "disk.*"), "case-sensitive");
        assert!(fnmatch("aaa", "a**a"));
        assert!(!fnmatch("", "?"));
        assert!(fnmatch("", ""));
        assert!(!fnmatch("x", ""));
    }

    #[test]
    fn bracket_sets() {
        assert!(fnmatch("disk1", "disk[0-9]"));
        assert!(!fnmatch("diskx", "disk[0-9]"));
        assert!(fnmatch("diskx", "disk[!0-9]"));
        assert!(!fnmatch("disk5", "disk[!0-9]"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("d", "[abc]"));
        assert!(fnmatch("]", "[]]"));
        assert!(fnmatch("a", "[!]]"));
        assert!(!fnmatch("]", "[!]]"));
        assert!(fnmatch("-", "[a-]"));
        assert!(fnmatch("-", "[-a]"));
        assert!(fnmatch("^", "[^a]"), "^ is an ordinary member");
        assert!(!fnmatch("b", "[z-a]"), "reversed range matches nothing");
        assert!(fnmatch("\\", "[\\]"), "backslash is literal");
        assert!(fnmatch("é", "[é]"));
    }

    #[test]
    fn unterminated_bracket_is_literal() {
        assert!(fnmatch("[ab", "[ab"));
        assert!(!fnmatch("a", "[ab"));
        assert!(fnmatch("x[!]", "x[!]"));
    }

    #[test]
    fn escapes_are_literal() {
        assert!(fnmatch("a.b", "a.b"));
        assert!(!fnmatch("axb", "a.b"));
        assert!(fnmatch("a\\*", "a\\*"));
        assert!(fnmatch("a\\xyz", "a\\*"));
    }
}
