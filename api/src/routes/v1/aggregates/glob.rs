//! Python `fnmatch` patterns over metric names (shared/spec/api.md §11.1 resource mode):
//! `*`, `?`, `[seq]` and `[!seq]`, case-sensitive.

/// Whether `name` matches the shell-style `pattern` as a whole.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

/// One pattern element.
enum Token {
    Any,
    One,
    Set {
        negated: bool,
        items: Vec<(char, char)>,
    },
    Char(char),
}

/// The token at `p[i..]` and its length; an unclosed `[` is a literal, as in Python.
fn token(p: &[char], i: usize) -> (Token, usize) {
    match p[i] {
        '*' => (Token::Any, 1),
        '?' => (Token::One, 1),
        '[' => {
            let mut j = i + 1;
            let negated = p.get(j) == Some(&'!');
            if negated {
                j += 1;
            }
            // A `]` right after the opening is a member.
            let body_start = j;
            if p.get(j) == Some(&']') {
                j += 1;
            }
            while j < p.len() && p[j] != ']' {
                j += 1;
            }
            if j >= p.len() {
                return (Token::Char('['), 1);
            }
            let body = &p[body_start..j];
            let mut items = Vec::new();
            let mut k = 0;
            while k < body.len() {
                if k + 2 < body.len() && body[k + 1] == '-' {
                    items.push((body[k], body[k + 2]));
                    k += 3;
                } else {
                    items.push((body[k], body[k]));
                    k += 1;
                }
            }
            (Token::Set { negated, items }, j + 1 - i)
        }
        c => (Token::Char(c), 1),
    }
}

fn matches(p: &[char], n: &[char]) -> bool {
    // Iterative matching with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            let (tok, len) = token(p, pi);
            let ok = match tok {
                Token::Any => {
                    star = Some((pi + len, ni));
                    pi += len;
                    continue;
                }
                Token::One => true,
                Token::Char(c) => c == n[ni],
                Token::Set { negated, items } => {
                    items.iter().any(|&(lo, hi)| lo <= n[ni] && n[ni] <= hi) != negated
                }
            };
            if ok {
                pi += len;
                ni += 1;
                continue;
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() {
        match token(p, pi) {
            (Token::Any, len) => pi += len,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn shell_patterns() {
        assert!(fnmatch("cpu.*", "cpu.util"));
        assert!(fnmatch("cpu.*", "cpu."));
        assert!(!fnmatch("cpu.*", "cpu"));
        assert!(fnmatch("*way", "noway"));
        assert!(!fnmatch("*way", "noways"));
        assert!(fnmatch("cpu.util", "cpu.util"));
        assert!(!fnmatch("cpu.util", "CPU.util"));
        assert!(fnmatch("d?sk", "disk"));
        assert!(fnmatch("disk[0-9]", "disk7"));
        assert!(!fnmatch("disk[!0-9]", "disk7"));
        assert!(fnmatch("a[", "a["));
        assert!(fnmatch("*a*b*", "xxaxxbxx"));
        assert!(!fnmatch("*a*b", "xxaxxbxxc"));
        assert!(fnmatch("*", ""));
    }
}
