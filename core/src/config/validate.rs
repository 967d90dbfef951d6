//! The pure validation step: values the types allow but gnocchi-rs cannot run with, and
//! options required by other options' values.

use std::path::PathBuf;

use crate::AggregationMethod;

use super::error::{ConfigError, InvalidValueSnafu, MissingOptionSnafu, NotSupportedSnafu};
use super::load::INCOMING;
use super::section::Section;
use super::sections::{
    ApiSection, ArchivePolicySection, AuthMode, IndexerSection, KeystoneAuthtokenSection,
    StatsdSection, StorageDriver, StorageSection,
};
use super::Config;

/// Storage and incoming drivers built so far; the others are "not supported yet".
const SUPPORTED_STORAGE_DRIVERS: &[StorageDriver] = &[StorageDriver::File];
/// Authentication modes built so far.
const SUPPORTED_AUTH_MODES: &[AuthMode] = &[
    AuthMode::Basic,
    AuthMode::Remoteuser,
    AuthMode::Noauth,
    AuthMode::Keystone,
];
/// Longest `s3_bucket_prefix` (bucket names are limited to 63 characters).
const S3_BUCKET_PREFIX_MAX_LEN: usize = 26;

/// A parsed `[indexer] url`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexerUrl {
    /// `sqlite:////absolute/path` or `sqlite:///relative/path`.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// `postgresql://…` (also `postgresql+psycopg2://…`), kept as written.
    Postgresql {
        /// The URL.
        url: String,
    },
    /// `mysql://…` (also `mysql+pymysql://…`), kept as written.
    Mysql {
        /// The URL.
        url: String,
    },
}

impl IndexerUrl {
    /// Parses an indexer URL; the error names `[indexer] url`.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| {
            InvalidValueSnafu {
                section: IndexerSection::NAME,
                option: "url",
                value: redact_url(url),
                reason,
            }
            .build()
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            invalid("expected a URL such as sqlite:////var/lib/gnocchi/indexer.sqlite")
        })?;
        let driver = scheme.split('+').next().unwrap_or(scheme);
        match driver {
            "sqlite" => {
                // sqlite:///<path>: the third slash ends the (empty) host part.
                let path = rest
                    .strip_prefix('/')
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        invalid("expected sqlite:////absolute/path or sqlite:///relative/path")
                    })?;
                let path = path.split('?').next().unwrap_or(path);
                Ok(IndexerUrl::Sqlite {
                    path: PathBuf::from(path),
                })
            }
            "postgresql" | "postgres" => Ok(IndexerUrl::Postgresql {
                url: url.to_owned(),
            }),
            "mysql" => Ok(IndexerUrl::Mysql {
                url: url.to_owned(),
            }),
            _ => Err(invalid(
                "unknown database scheme (expected sqlite, postgresql or mysql)",
            )),
        }
    }

    /// Whether gnocchi-rs has this indexer driver yet.
    fn is_supported(&self) -> bool {
        match self {
            IndexerUrl::Sqlite { .. }
            | IndexerUrl::Postgresql { .. }
            | IndexerUrl::Mysql { .. } => true,
        }
    }
}

/// The URL without what may be a password: only the scheme is shown in errors.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://…"),
        None => String::from("…"),
    }
}

impl IndexerSection {
    /// `url` parsed; `None` when unset (the binary then picks its embedded default).
    pub fn parsed_url(&self) -> Result<Option<IndexerUrl>, ConfigError> {
        self.url.as_deref().map(IndexerUrl::parse).transpose()
    }
}

fn check_driver(section: &str, driver: StorageDriver) -> Result<(), ConfigError> {
    if SUPPORTED_STORAGE_DRIVERS.contains(&driver) {
        return Ok(());
    }
    NotSupportedSnafu {
        section,
        option: "driver",
        value: driver.as_str(),
    }
    .fail()
}

fn check_storage(section: &str, storage: &StorageSection) -> Result<(), ConfigError> {
    check_driver(section, storage.driver)?;
    if storage.s3_bucket_prefix.chars().count() > S3_BUCKET_PREFIX_MAX_LEN {
        return InvalidValueSnafu {
            section,
            option: "s3_bucket_prefix",
            value: storage.s3_bucket_prefix.as_str(),
            reason: format!("expected at most {S3_BUCKET_PREFIX_MAX_LEN} characters"),
        }
        .fail();
    }
    if storage.driver == StorageDriver::File && storage.file_basepath.trim().is_empty() {
        return InvalidValueSnafu {
            section,
            option: "file_basepath",
            value: storage.file_basepath.as_str(),
            reason: "the file driver needs a directory",
        }
        .fail();
    }
    Ok(())
}

/// `auth_mode = keystone` needs the service user's password login.
fn check_keystone(ks: &KeystoneAuthtokenSection) -> Result<(), ConfigError> {
    const WHEN: &str = "when [api] auth_mode = keystone";
    let section = KeystoneAuthtokenSection::NAME;
    if ks.auth_type != "password" && ks.auth_type != "v3password" {
        return NotSupportedSnafu {
            section,
            option: "auth_type",
            value: ks.auth_type.as_str(),
        }
        .fail();
    }
    let unset = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
    let required: [(&str, bool); 4] = [
        ("auth_url", unset(&ks.auth_url)),
        ("username", unset(&ks.username) && unset(&ks.user_id)),
        ("password", unset(&ks.password)),
        (
            "project_name",
            unset(&ks.project_name) && unset(&ks.project_id),
        ),
    ];
    if let Some((option, _)) = required.into_iter().find(|(_, missing)| *missing) {
        return MissingOptionSnafu {
            section,
            option,
            reason: WHEN,
        }
        .fail();
    }
    for (option, url) in [
        ("auth_url", &ks.auth_url),
        ("www_authenticate_uri", &ks.www_authenticate_uri),
    ] {
        let Some(url) = url else { continue };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return InvalidValueSnafu {
                section,
                option,
                value: url.as_str(),
                reason: "expected an http:// or https:// URL",
            }
            .fail();
        }
    }
    Ok(())
}

impl Config {
    /// Checks what the types cannot: drivers and modes gnocchi-rs has, options other options
    /// require, URL forms. Pure; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let api = &self.api;
        if !SUPPORTED_AUTH_MODES.contains(&api.auth_mode) {
            return NotSupportedSnafu {
                section: ApiSection::NAME,
                option: "auth_mode",
                value: api.auth_mode.as_str(),
            }
            .fail();
        }
        if api.auth_mode == AuthMode::Remoteuser
            && api
                .remote_user_header
                .as_deref()
                .is_none_or(|h| h.trim().is_empty())
        {
            return MissingOptionSnafu {
                section: ApiSection::NAME,
                option: "remote_user_header",
                reason: "when auth_mode = remoteuser",
            }
            .fail();
        }
        if api.auth_mode == AuthMode::Keystone {
            check_keystone(&self.keystone_authtoken)?;
        }
        for method in &self.archive_policy.default_aggregation_methods {
            if method.parse::<AggregationMethod>().is_err() {
                return InvalidValueSnafu {
                    section: ArchivePolicySection::NAME,
                    option: "default_aggregation_methods",
                    value: method.as_str(),
                    reason: "not an aggregation method",
                }
                .fail();
            }
        }
        if let Some(url) = self.indexer.parsed_url()? {
            if !url.is_supported() {
                return NotSupportedSnafu {
                    section: IndexerSection::NAME,
                    option: "url",
                    value: redact_url(self.indexer.url.as_deref().unwrap_or_default()),
                }
                .fail();
            }
        }
        check_storage(StorageSection::NAME, &self.storage)?;
        check_storage(INCOMING, &self.incoming)?;
        if let Some(id) = &self.statsd.resource_id {
            if uuid::Uuid::parse_str(id.trim()).is_err() {
                return InvalidValueSnafu {
                    section: StatsdSection::NAME,
                    option: "resource_id",
                    value: id.as_str(),
                    reason: "expected a UUID",
                }
                .fail();
            }
        }
        Ok(())
    }
}
