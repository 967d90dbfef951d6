//! The oslo.config INI syntax, read into raw text values.
//!
//! What oslo.config's parser accepts: `[section]` headers, `name = value` or `name: value`,
//! whole-line `#` and `;` comments (a `#` later in a line is part of the value), values wrapped
//! in matching quotes unwrapped, indented lines continuing the previous value, dashes and
//! underscores equivalent in option names. Later assignments win, across files too.

use std::collections::BTreeMap;

use super::error::{ConfigError, SyntaxSnafu};

/// One raw value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawValue {
    /// The text after `=`, trimmed and unquoted.
    pub(crate) value: String,
    /// Set once the loader has read it; what stays unused is warned about.
    pub(crate) used: bool,
}

/// Every section's options, merged over all files read so far.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawIni {
    /// section name → normalised option name → value.
    pub(crate) sections: BTreeMap<String, BTreeMap<String, RawValue>>,
}

/// Option names are compared with dashes read as underscores (`log-dir` = `log_dir`).
pub(crate) fn normalize_name(name: &str) -> String {
    name.trim().replace('-', "_")
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

impl RawIni {
    /// Reads one file's text over what is already there; `origin` names it in errors.
    pub(crate) fn merge_str(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let mut section: Option<String> = None;
        // (section, option) of the last assignment, for continuation lines.
        let mut last: Option<(String, String)> = None;
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() {
                last = None;
                continue;
            }
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((sec, opt)) = &last {
                    let value = self
                        .sections
                        .get_mut(sec)
                        .and_then(|s| s.get_mut(opt))
                        .expect("the continued option was inserted by the previous line");
                    value.value.push('\n');
                    value.value.push_str(trimmed);
                    continue;
                }
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return SyntaxSnafu {
                        origin,
                        line: line_no,
                        text: trimmed,
                        reason: "a section header must end with ]",
                    }
                    .fail();
                };
                let name = name.trim();
                if name.is_empty() {
                    return SyntaxSnafu {
                        origin,
                        line: line_no,
                        text: trimmed,
                        reason: "empty section name",
                    }
                    .fail();
                }
                self.sections.entry(name.to_owned()).or_default();
                section = Some(name.to_owned());
                last = None;
                continue;
            }
            let split = trimmed.find(['=', ':']);
            let Some(at) = split else {
                return SyntaxSnafu {
                    origin,
                    line: line_no,
                    text: trimmed,
                    reason: "expected name = value",
                }
                .fail();
            };
            let name = normalize_name(&trimmed[..at]);
            if name.is_empty() {
                return SyntaxSnafu {
                    origin,
                    line: line_no,
                    text: trimmed,
                    reason: "empty option name",
                }
                .fail();
            }
            let Some(sec) = &section else {
                return SyntaxSnafu {
                    origin,
                    line: line_no,
                    text: trimmed,
                    reason: "option before any [section] header",
                }
                .fail();
            };
            let value = unquote(&trimmed[at + 1..]).to_owned();
            self.sections
                .entry(sec.clone())
                .or_default()
                .insert(name.clone(), RawValue { value, used: false });
            last = Some((sec.clone(), name));
        }
        Ok(())
    }

    /// The raw text of `section.option`, if set.
    pub(crate) fn get(&self, section: &str, option: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(option))
            .map(|v| v.value.as_str())
    }

    /// Marks `section.option` read.
    pub(crate) fn mark_used(&mut self, section: &str, option: &str) {
        if let Some(v) = self
            .sections
            .get_mut(section)
            .and_then(|s| s.get_mut(option))
        {
            v.used = true;
        }
    }
}
