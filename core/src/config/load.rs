//! From raw INI text to the typed [`Config`]: deprecated names, interpolation, warnings.

use super::error::{ConfigError, InvalidValueSnafu};
use super::ini::{normalize_name, RawIni};
use super::section::{OptionMeta, Section};
use super::sections::{
    Amqp1dSection, ApiSection, ArchivePolicySection, CorsSection, DefaultSection, IndexerSection,
    KeystoneAuthtokenSection, MetricdSection, OsloPolicySection, StatsdSection, StorageSection,
};
use super::Config;

/// The section name of `[incoming]`, whose options are `[storage]`'s.
pub(crate) const INCOMING: &str = "incoming";

/// How deep `${…}` references may nest before we call it a loop.
const MAX_INTERPOLATION_DEPTH: usize = 16;

/// Builds the typed configuration from the merged raw files.
pub(crate) fn from_raw(
    mut raw: RawIni,
    env_indexer_url: Option<String>,
) -> Result<(Config, Vec<String>), ConfigError> {
    let lookup = raw.clone();
    let mut warnings = Vec::new();
    let mut config = Config::default();
    let mut ctx = Ctx {
        raw: &mut raw,
        lookup: &lookup,
        warnings: &mut warnings,
    };
    ctx.apply(&mut config.default, DefaultSection::NAME)?;
    ctx.apply(&mut config.api, ApiSection::NAME)?;
    ctx.apply(&mut config.archive_policy, ArchivePolicySection::NAME)?;
    ctx.apply(&mut config.indexer, IndexerSection::NAME)?;
    ctx.apply(&mut config.storage, StorageSection::NAME)?;
    // [incoming] defaults to ${storage.<name>}: start from the storage values.
    config.incoming = config.storage.clone();
    ctx.apply(&mut config.incoming, INCOMING)?;
    ctx.apply(&mut config.metricd, MetricdSection::NAME)?;
    ctx.apply(&mut config.cors, CorsSection::NAME)?;
    ctx.apply(&mut config.oslo_policy, OsloPolicySection::NAME)?;
    ctx.apply(&mut config.statsd, StatsdSection::NAME)?;
    ctx.apply(&mut config.amqp1d, Amqp1dSection::NAME)?;
    ctx.apply(
        &mut config.keystone_authtoken,
        KeystoneAuthtokenSection::NAME,
    )?;
    if config.indexer.url.is_none() {
        config.indexer.url = env_indexer_url.filter(|u| !u.is_empty());
    }
    for (section, options) in &raw.sections {
        for (option, value) in options {
            if !value.used {
                warnings.push(format!(
                    "unknown option {option} in section [{section}] ignored"
                ));
            }
        }
    }
    Ok((config, warnings))
}

struct Ctx<'a> {
    raw: &'a mut RawIni,
    lookup: &'a RawIni,
    warnings: &'a mut Vec<String>,
}

impl Ctx<'_> {
    fn apply<S: Section>(&mut self, target: &mut S, section: &str) -> Result<(), ConfigError> {
        for meta in S::options() {
            let Some((found_section, found_name)) = self.find(&meta, section) else {
                continue;
            };
            let raw_value = self
                .lookup
                .get(&found_section, &found_name)
                .expect("find() returned a set option")
                .to_owned();
            let value =
                interpolate(self.lookup, &found_section, &raw_value, 0).map_err(|reason| {
                    ConfigError::InvalidValue {
                        section: found_section.clone(),
                        option: found_name.clone(),
                        value: raw_value.clone(),
                        reason,
                    }
                })?;
            match target.set(meta.name, &value) {
                Some(Ok(())) => {}
                Some(Err(reason)) => {
                    return InvalidValueSnafu {
                        section: found_section,
                        option: found_name,
                        value: raw_value,
                        reason,
                    }
                    .fail();
                }
                None => unreachable!("options() and set() come from the same table"),
            }
        }
        Ok(())
    }

    /// Where `meta` is set: its own name in `section`, else the first deprecated name set.
    /// Marks every spelling found as read, and warns about deprecated ones.
    fn find(&mut self, meta: &OptionMeta, section: &str) -> Option<(String, String)> {
        let mut found = None;
        if self.lookup.get(section, meta.name).is_some() {
            self.raw.mark_used(section, meta.name);
            found = Some((section.to_owned(), meta.name.to_owned()));
        }
        for (old_section, old_name) in meta.deprecated {
            // A rename within the storage table also applies to [incoming].
            let old_section = if section == INCOMING && *old_section == StorageSection::NAME {
                section
            } else {
                old_section
            };
            let old_name = normalize_name(old_name);
            if self.lookup.get(old_section, &old_name).is_none() {
                continue;
            }
            self.raw.mark_used(old_section, &old_name);
            if found.is_some() {
                self.warnings.push(format!(
                    "deprecated option {old_name} in section [{old_section}] ignored: \
                     {} in section [{section}] is set",
                    meta.name
                ));
            } else {
                self.warnings.push(format!(
                    "option {old_name} in section [{old_section}] is deprecated: \
                     use {} in section [{section}]",
                    meta.name
                ));
                found = Some((old_section.to_owned(), old_name));
            }
        }
        found
    }
}

/// Expands `$name`, `${name}` and `${section.name}` (oslo.config interpolation); `$$` is `$`.
/// A reference to an unset option expands to that option's default.
fn interpolate(raw: &RawIni, section: &str, value: &str, depth: usize) -> Result<String, String> {
    if !value.contains('$') {
        return Ok(value.to_owned());
    }
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err("interpolation nests too deep (a loop?)".to_owned());
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let reference = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| "unterminated ${ in interpolation".to_owned())?;
            rest = &braced[end + 1..];
            &braced[..end]
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            name
        };
        if reference.is_empty() {
            return Err("empty $ reference (write $$ for a literal $)".to_owned());
        }
        out.push_str(&resolve(raw, section, reference, depth)?);
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(raw: &RawIni, section: &str, reference: &str, depth: usize) -> Result<String, String> {
    let candidates: Vec<(String, String)> = match reference.split_once('.') {
        Some((sec, name)) => vec![(sec.to_owned(), normalize_name(name))],
        None => {
            let name = normalize_name(reference);
            vec![
                (section.to_owned(), name.clone()),
                (DefaultSection::NAME.to_owned(), name),
            ]
        }
    };
    for (sec, name) in &candidates {
        if let Some(v) = raw.get(sec, name) {
            return interpolate(raw, sec, v, depth + 1);
        }
        if let Some(default) = default_of(raw, sec, name, depth)? {
            return Ok(default);
        }
    }
    Err(format!("${{{reference}}} refers to an unknown option"))
}

/// The default of a known option as INI text (`Some("")` when it is unset by default).
fn default_of(
    raw: &RawIni,
    section: &str,
    name: &str,
    depth: usize,
) -> Result<Option<String>, String> {
    fn find<S: Section>(name: &str) -> Option<String> {
        S::options()
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.default.unwrap_or_default())
    }
    Ok(match section {
        "DEFAULT" => find::<DefaultSection>(name),
        "api" => find::<ApiSection>(name),
        "archive_policy" => find::<ArchivePolicySection>(name),
        "indexer" => find::<IndexerSection>(name),
        "storage" => find::<StorageSection>(name),
        INCOMING => {
            // ${incoming.x} unset is ${storage.x}.
            if let Some(v) = raw.get(StorageSection::NAME, name) {
                return interpolate(raw, StorageSection::NAME, v, depth + 1).map(Some);
            }
            find::<StorageSection>(name)
        }
        "metricd" => find::<MetricdSection>(name),
        "cors" => find::<CorsSection>(name),
        "oslo_policy" => find::<OsloPolicySection>(name),
        "statsd" => find::<StatsdSection>(name),
        "amqp1d" => find::<Amqp1dSection>(name),
        _ => None,
    })
}
