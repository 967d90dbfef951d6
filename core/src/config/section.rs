//! The one table form every section is written in: `config_section!` turns it into the struct
//! (fields named as the options, `///` help on each), its `Default`, the per-option setter used
//! by the loader and the metadata the sample is generated from.

/// What the loader and the sample generator know about one option.
#[derive(Debug, Clone)]
pub(crate) struct OptionMeta {
    /// The option name, as written in `gnocchi.conf`.
    pub(crate) name: &'static str,
    /// The one-line help (the first line of the field's `///`).
    pub(crate) help: &'static str,
    /// The type as the sample describes it.
    pub(crate) type_desc: &'static str,
    /// The default rendered as INI text; `None` for unset.
    pub(crate) default: Option<String>,
    /// The allowed values of a choice option.
    pub(crate) choices: &'static [&'static str],
    /// Inclusive integer bounds.
    pub(crate) bounds: (Option<i64>, Option<i64>),
    /// Old `(section, name)` spellings still read, in order of preference.
    pub(crate) deprecated: &'static [(&'static str, &'static str)],
    /// A password or a URL that may hold one: never logged, never in `Debug`.
    pub(crate) secret: bool,
}

/// Implemented by every section struct.
pub(crate) trait Section: Default {
    /// The section name in `gnocchi.conf`.
    const NAME: &'static str;

    /// Every option of the section, in table order.
    fn options() -> Vec<OptionMeta>;

    /// Sets an option from INI text. `None` if the section has no such option.
    fn set(&mut self, option: &str, raw: &str) -> Option<Result<(), String>>;

    /// Every option's current value as INI text (`None` when unset), in table order.
    fn values(&self) -> Vec<(&'static str, Option<String>)>;
}

/// Defines a section struct from its table.
///
/// ```text
/// config_section! {
///     /// Section doc.
///     pub struct ApiSection("api") {
///         /// One-line help.
///         port: u16 = 8041;
///         /// Another option.
///         workers: u32 = 1, range = 1..;
///         /// Renamed option.
///         operation_timeout: u64 = 10, deprecated = [("api", "refresh_timeout")];
///         /// A password (masked in `Debug` and in logged values).
///         swift_key: String = s("admin"), secret = true;
///     }
/// }
/// ```
macro_rules! config_section {
    (@bounds) => {
        (None, None)
    };
    (@bounds $range:expr) => {
        ($range).bounds()
    };
    (@secret) => {
        false
    };
    (@secret $secret:literal) => {
        $secret
    };
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident($section:literal) {
            $(
                $(#[doc = $doc:literal])+
                $field:ident : $ty:ty = $default:expr
                    $(, range = $range:expr)?
                    $(, deprecated = [$(($dsec:literal, $dname:literal)),* $(,)?])?
                    $(, secret = $secret:literal)?
                    ;
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(
                        .field(
                            stringify!($field),
                            if config_section!(@secret $($secret)?) {
                                &"<secret>" as &dyn std::fmt::Debug
                            } else {
                                &self.$field
                            },
                        )
                    )*
                    .finish()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl $crate::config::section::Section for $name {
            const NAME: &'static str = $section;

            fn options() -> Vec<$crate::config::section::OptionMeta> {
                use $crate::config::value::OptValue as _;
                #[allow(unused_imports)]
                use $crate::config::value::IntRange as _;
                let defaults = Self::default();
                vec![$(
                    $crate::config::section::OptionMeta {
                        name: stringify!($field),
                        help: [$($doc),+][0].trim(),
                        type_desc: <$ty as $crate::config::value::OptValue>::TYPE_DESC,
                        default: defaults.$field.render(),
                        choices: <$ty as $crate::config::value::OptValue>::choices(),
                        bounds: config_section!(@bounds $($range)?),
                        deprecated: &[$($( ($dsec, $dname) ),*)?],
                        secret: config_section!(@secret $($secret)?),
                    },
                )*]
            }

            fn set(&mut self, option: &str, raw: &str) -> Option<Result<(), String>> {
                #[allow(unused_imports)]
                use $crate::config::value::IntRange as _;
                match option {
                    $(
                        stringify!($field) => Some(
                            <$ty as $crate::config::value::OptValue>::parse_opt(raw).and_then(|v| {
                                $( $crate::config::value::check_range(&v, ($range).bounds())?; )?
                                self.$field = v;
                                Ok(())
                            }),
                        ),
                    )*
                    _ => None,
                }
            }

            fn values(&self) -> Vec<(&'static str, Option<String>)> {
                use $crate::config::value::OptValue as _;
                vec![$( (stringify!($field), self.$field.render()), )*]
            }
        }
    };
}

pub(crate) use config_section;
