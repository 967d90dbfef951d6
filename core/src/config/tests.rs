//! Loader, validation and sample tests (shared/spec/engine.md §8, conformance/README.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::*;

fn load(text: &str) -> LoadedConfig {
    match Config::from_ini_str(text) {
        Ok(l) => l,
        Err(e) => panic!("config should load: {e}"),
    }
}

fn load_err(text: &str) -> String {
    match Config::from_ini_str(text) {
        Ok(l) => panic!("config should fail: {l:?}"),
        Err(e) => e.to_string(),
    }
}

fn write_file(path: &Path, text: &str) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn defaults_match_the_spec() {
    let c = Config::default();
    assert!(!c.default.debug);
    assert!(c.default.verbose);
    assert!(!c.default.create_legacy_resource_types);
    assert_eq!(c.default.parallel_operations, None);
    assert_eq!(c.api.host, "0.0.0.0");
    assert_eq!(c.api.port, 8041);
    assert_eq!(c.api.auth_mode, AuthMode::Basic);
    assert_eq!(c.api.max_limit, 1000);
    assert_eq!(c.api.operation_timeout, 10);
    assert!(!c.api.enable_proxy_headers_parsing);
    assert_eq!(c.api.remote_user_header, None);
    assert_eq!(c.api.max_request_body_size, 64 * 1024 * 1024);
    assert_eq!(
        c.archive_policy.default_aggregation_methods,
        ["mean", "min", "max", "sum", "std", "count"]
    );
    assert_eq!(c.indexer.url, None);
    assert_eq!(c.storage.driver, StorageDriver::File);
    assert_eq!(c.storage.file_basepath, "/var/lib/gnocchi");
    assert_eq!(c.storage.file_subdir_len, 2);
    assert_eq!(c.storage.redis_url, "redis://localhost:6379/");
    assert_eq!(c.incoming, c.storage);
    assert_eq!(c.metricd.workers, None);
    assert_eq!(c.metricd.metric_processing_delay, 60);
    assert!(c.metricd.greedy);
    assert_eq!(c.metricd.metric_reporting_delay, 120);
    assert_eq!(c.metricd.metric_cleanup_delay, 300);
    assert_eq!(c.metricd.processing_replicas, 3);
    assert_eq!(c.metricd.cleanup_batch_size, 10000);
    assert!(c.cors.allowed_origin.is_empty());
    assert!(c.cors.allow_credentials);
    assert_eq!(c.cors.max_age, 3600);
    assert_eq!(c.cors.allow_methods.len(), 8);
    assert_eq!(c.cors.allow_headers[0], "Authorization");
    assert_eq!(c.oslo_policy.policy_file, "policy.yaml");
    assert_eq!(c.statsd.port, 8125);
    assert_eq!(c.statsd.flush_delay, 10.0);
    assert_eq!(c.amqp1d.resource_type, "collectd_amqp1d");
    c.validate().expect("the defaults are valid");
}

#[test]
fn unset_counts_mean_one_per_cpu() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let c = Config::default();
    assert_eq!(c.default.effective_parallel_operations(), cpus);
    assert_eq!(c.metricd.effective_workers(), cpus);
    let l = load("[DEFAULT]\nparallel_operations = 3\n[metricd]\nworkers = 2\n");
    assert_eq!(l.config.default.effective_parallel_operations(), 3);
    assert_eq!(l.config.metricd.effective_workers(), 2);
}

#[test]
fn empty_text_is_the_defaults() {
    let l = load("");
    assert_eq!(l.config, Config::default());
    assert!(l.warnings.is_empty());
}

/// conformance/README.md "The configuration file the harness writes", as written.
#[test]
fn conformance_harness_file_loads() {
    let text = "\
[DEFAULT]
debug = false
verbose = false

[api]
auth_mode = basic
host = 127.0.0.1
port = 43210
enable_proxy_headers_parsing = true
max_limit = 7

[cors]
allowed_origin = http://foobar.com

[indexer]
url = sqlite:////tmp/state/indexer.sqlite

[storage]
driver = file
file_basepath = /tmp/state/storage

[incoming]
driver = file
file_basepath = /tmp/state/incoming

[metricd]
workers = 1
metric_processing_delay = 1
metric_cleanup_delay = 2
";
    let l = load(text);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.config;
    assert!(!c.default.verbose);
    assert_eq!(c.api.host, "127.0.0.1");
    assert_eq!(c.api.port, 43210);
    assert!(c.api.enable_proxy_headers_parsing);
    assert_eq!(c.api.max_limit, 7);
    assert_eq!(c.cors.allowed_origin, ["http://foobar.com"]);
    assert_eq!(
        c.indexer.parsed_url().unwrap(),
        Some(IndexerUrl::Sqlite {
            path: PathBuf::from("/tmp/state/indexer.sqlite")
        })
    );
    assert_eq!(c.storage.file_basepath, "/tmp/state/storage");
    assert_eq!(c.incoming.file_basepath, "/tmp/state/incoming");
    assert_eq!(c.metricd.workers, Some(1));
    assert_eq!(c.metricd.metric_processing_delay, 1);
    assert_eq!(c.metricd.metric_cleanup_delay, 2);
}

/// An install-guide style gnocchi.conf: library sections and old names are warnings.
#[test]
fn install_guide_config_warns_not_fails() {
    let text = "\
[DEFAULT]
create_legacy_resource_types = True
log_dir = /var/log/gnocchi
transport_url = rabbit://openstack:secret@controller

[api]
auth_mode = basic

[database]
connection = sqlite:////var/lib/gnocchi/gnocchi.sqlite
max_retries = -1

[keystone_authtoken]
auth_type = password
auth_url = http://controller:5000/v3
project_domain_name = Default

[oslo_messaging_rabbit]
rabbit_host = controller

[storage]
coordination_url = file:///var/lib/gnocchi/locks
file_basepath = /var/lib/gnocchi
driver = file
";
    let l = load(text);
    let c = &l.config;
    assert!(c.default.create_legacy_resource_types);
    assert_eq!(c.default.log_dir.as_deref(), Some("/var/log/gnocchi"));
    assert_eq!(
        c.indexer.url.as_deref(),
        Some("sqlite:////var/lib/gnocchi/gnocchi.sqlite")
    );
    assert_eq!(
        c.default.coordination_url.as_deref(),
        Some("file:///var/lib/gnocchi/locks")
    );
    let w = l.warnings.join("\n");
    for expected in [
        "unknown option transport_url in section [DEFAULT] ignored",
        "unknown option max_retries in section [database] ignored",
        "unknown option rabbit_host in section [oslo_messaging_rabbit] ignored",
        "option connection in section [database] is deprecated: use url in section [indexer]",
        "option coordination_url in section [storage] is deprecated: \
         use coordination_url in section [DEFAULT]",
    ] {
        assert!(w.contains(expected), "missing warning {expected:?} in\n{w}");
    }
    assert!(!w.contains("create_legacy_resource_types"), "{w}");
    // Read since auth_mode = keystone exists.
    assert!(!w.contains("keystone_authtoken"), "{w}");
    assert_eq!(
        c.keystone_authtoken.auth_url.as_deref(),
        Some("http://controller:5000/v3")
    );
}

#[test]
fn new_name_wins_over_deprecated_name() {
    let l = load("[api]\nrefresh_timeout = 5\noperation_timeout = 7\n");
    assert_eq!(l.config.api.operation_timeout, 7);
    assert!(
        l.warnings[0].contains("refresh_timeout"),
        "{:?}",
        l.warnings
    );
    let l = load("[api]\nrefresh_timeout = 5\n");
    assert_eq!(l.config.api.operation_timeout, 5);
    let l = load("[oslo_middleware]\nenable_proxy_headers_parsing = yes\n");
    assert!(l.config.api.enable_proxy_headers_parsing);
    let l = load("[storage]\naggregation_workers_number = 4\nmetric_processing_delay = 9\n");
    assert_eq!(l.config.default.parallel_operations, Some(4));
    assert_eq!(l.config.metricd.metric_processing_delay, 9);
    let l = load("[incoming]\nswift_tenant_name = p\n");
    assert_eq!(l.config.incoming.swift_project_name.as_deref(), Some("p"));
    assert_eq!(l.config.storage.swift_project_name, None);
}

#[test]
fn ini_syntax() {
    let text = "\
# comment
; another comment
[DEFAULT]
create-legacy-resource-types = yes
log_file: \"gnocchi.log\"

[api]
  host = 10.0.0.1
port=8042
";
    let l = load(text);
    assert!(l.config.default.create_legacy_resource_types);
    assert_eq!(l.config.default.log_file.as_deref(), Some("gnocchi.log"));
    assert_eq!(l.config.api.host, "10.0.0.1");
    assert_eq!(l.config.api.port, 8042);
    // oslo.config keeps a `#` after the value as part of it.
    let e = load_err("[api]\nmax_limit = 7 # functional suite\n");
    assert!(e.contains("option max_limit in section [api]"), "{e}");
    assert!(load_err("port = 1\n").contains("before any [section]"));
    assert!(load_err("[api\n").contains("line 1"));
    assert!(load_err("[api]\njunk\n").contains("expected name = value"));
}

#[test]
fn continuation_lines_extend_values() {
    let l = load("[cors]\nallowed_origin = http://a.example,\n  http://b.example\n");
    assert_eq!(
        l.config.cors.allowed_origin,
        ["http://a.example", "http://b.example"]
    );
}

#[test]
fn interpolation() {
    let l = load("[storage]\nfile_basepath = /srv/g\n[incoming]\nfile_basepath = ${storage.file_basepath}/in\n");
    assert_eq!(l.config.incoming.file_basepath, "/srv/g/in");
    let l = load("[DEFAULT]\nbase = /x\n[storage]\nfile_basepath = $base/s\n");
    assert_eq!(l.config.storage.file_basepath, "/x/s");
    let l = load("[incoming]\ndriver = ${storage.driver}\n");
    assert_eq!(l.config.incoming.driver, StorageDriver::File);
    let l = load("[storage]\nswift_key = a$$b\n");
    assert_eq!(l.config.storage.swift_key, "a$b");
    assert!(load_err("[storage]\nswift_key = $nope\n").contains("unknown option"));
    assert!(load_err("[storage]\nswift_key = ${swift_key}\n").contains("too deep"));
}

#[test]
fn incoming_defaults_to_storage() {
    let l = load("[storage]\nfile_basepath = /data\nfile_subdir_len = 3\n");
    assert_eq!(l.config.incoming.file_basepath, "/data");
    assert_eq!(l.config.incoming.file_subdir_len, 3);
    let l = load("[storage]\nfile_basepath = /data\n[incoming]\nfile_basepath = /in\n");
    assert_eq!(l.config.storage.file_basepath, "/data");
    assert_eq!(l.config.incoming.file_basepath, "/in");
}

#[test]
fn value_types() {
    for (text, expected) in [
        ("true", true),
        ("On", true),
        ("1", true),
        ("no", false),
        ("F", false),
    ] {
        let l = load(&format!("[api]\nenable_proxy_headers_parsing = {text}\n"));
        assert_eq!(
            l.config.api.enable_proxy_headers_parsing, expected,
            "{text}"
        );
    }
    assert_eq!(
        load_err("[api]\nport = abc\n"),
        "invalid value \"abc\" for option port in section [api]: expected an integer"
    );
    assert_eq!(
        load_err("[api]\nport = 70000\n"),
        "invalid value \"70000\" for option port in section [api]: \
         expected an integer between 0 and 65535"
    );
    assert!(
        load_err("[api]\nenable_proxy_headers_parsing = maybe\n").contains("expected a boolean")
    );
    assert!(load_err("[storage]\nfile_subdir_len = 33\n").contains("between 0 and 32"));
    assert!(load_err("[metricd]\nworkers = 0\n").contains("at least 1"));
    assert!(load_err("[metricd]\nmetric_reporting_delay = -2\n").contains("at least -1"));
    assert_eq!(
        load("[metricd]\nmetric_reporting_delay = -1\n")
            .config
            .metricd
            .metric_reporting_delay,
        -1
    );
    assert!(load_err("[statsd]\nflush_delay = soon\n").contains("expected a number"));
    assert_eq!(
        load("[statsd]\nflush_delay = 2.5\n")
            .config
            .statsd
            .flush_delay,
        2.5
    );
    assert!(load_err("[api]\nauth_mode = kerberos\n")
        .contains("expected one of basic, remoteuser, keystone, noauth"));
    assert_eq!(
        load("[api]\nmax_limit = 1_000\n").config.api.max_limit,
        1000
    );
    assert_eq!(load("[metricd]\nworkers =\n").config.metricd.workers, None);
    let l = load("[archive_policy]\ndefault_aggregation_methods = mean, max ,rate:mean\n");
    assert_eq!(
        l.config.archive_policy.default_aggregation_methods,
        ["mean", "max", "rate:mean"]
    );
}

#[test]
fn validation_errors() {
    assert_eq!(
        load_err("[storage]\ndriver = ceph\n"),
        "option driver in section [storage]: \"ceph\" is not supported yet by gnocchi-rs"
    );
    for d in ["redis", "s3", "swift"] {
        assert!(load_err(&format!("[storage]\ndriver = {d}\n")).contains("not supported yet"));
    }
    for d in ["ceph", "redis"] {
        let e = load_err(&format!("[incoming]\ndriver = {d}\n"));
        assert!(e.contains("option driver in section [incoming]"), "{e}");
    }
    // A [storage] driver is inherited by [incoming], but [storage] is checked first.
    assert!(load_err("[storage]\ndriver = redis\n").contains("[storage]"));
    assert_eq!(
        load_err("[api]\nauth_mode = keystone\n"),
        "option auth_url in section [keystone_authtoken] must be set \
         when [api] auth_mode = keystone"
    );
    let ks = "[api]\nauth_mode = keystone\n[keystone_authtoken]\nauth_url = http://ks:5000\n\
              username = gnocchi\npassword = p\nproject_name = service\nauth_uri = http://ks\n";
    let l = load(ks);
    assert_eq!(
        l.config.keystone_authtoken.www_authenticate_uri.as_deref(),
        Some("http://ks")
    );
    assert_eq!(l.config.keystone_authtoken.token_cache_time, 300);
    assert!(load_err(&ks.replace("password = p\n", "")).contains("option password in section"));
    assert!(load_err(&format!("{ks}auth_type = token\n")).contains("auth_type"));
    assert_eq!(
        load_err("[api]\nauth_mode = remoteuser\n"),
        "option remote_user_header in section [api] must be set when auth_mode = remoteuser"
    );
    let l = load("[api]\nauth_mode = remoteuser\nremote_user_header = X-Remote-User\n");
    assert_eq!(l.config.api.auth_mode, AuthMode::Remoteuser);
    load("[api]\nauth_mode = noauth\n");
    let l = load("[indexer]\nurl = postgresql://gnocchi:secret@127.0.0.1:5432/gnocchi\n");
    assert!(matches!(
        l.config.indexer.parsed_url().unwrap(),
        Some(IndexerUrl::Postgresql { .. })
    ));
    for url in [
        "mysql://gnocchi@db/gnocchi",
        "mysql+pymysql://gnocchi:secret@db/gnocchi?charset=utf8",
    ] {
        let l = load(&format!("[indexer]\nurl = {url}\n"));
        assert!(matches!(
            l.config.indexer.parsed_url().unwrap(),
            Some(IndexerUrl::Mysql { .. })
        ));
    }
    assert!(load_err("[indexer]\nurl = oracle://x\n").contains("unknown database scheme"));
    assert!(load_err("[indexer]\nurl = /var/lib/gnocchi.db\n").contains("expected a URL"));
    assert!(load_err("[indexer]\nurl = sqlite://\n").contains("sqlite:////absolute/path"));
    let l = load("[indexer]\nurl = sqlite:///rel/indexer.sqlite\n");
    assert_eq!(
        l.config.indexer.parsed_url().unwrap(),
        Some(IndexerUrl::Sqlite {
            path: PathBuf::from("rel/indexer.sqlite")
        })
    );
    assert!(
        load_err("[archive_policy]\ndefault_aggregation_methods = mean,avg\n")
            .contains("invalid value \"avg\" for option default_aggregation_methods")
    );
    assert!(load_err("[statsd]\nresource_id = nope\n").contains("expected a UUID"));
    load("[statsd]\nresource_id = 07f26121-5777-48ba-8a0b-d70468133dd9\n");
    assert!(
        load_err("[storage]\ns3_bucket_prefix = aaaaaaaaaaaaaaaaaaaaaaaaaaa\n")
            .contains("at most 26")
    );
}

#[test]
fn files_and_dirs_later_wins() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.conf");
    let b = dir.path().join("b.conf");
    write_file(&a, "[api]\nport = 1000\nmax_limit = 5\n");
    write_file(&b, "[api]\nport = 2000\n");
    let confd = dir.path().join("conf.d");
    std::fs::create_dir(&confd).unwrap();
    write_file(&confd.join("20-z.conf"), "[api]\nhost = 2.2.2.2\n");
    write_file(
        &confd.join("10-y.conf"),
        "[api]\nhost = 1.1.1.1\nport = 3000\n",
    );
    write_file(&confd.join("ignored.txt"), "[api]\nport = 9\n");
    let l = Config::load(&ConfigSources {
        files: vec![a.clone(), b.clone()],
        dirs: vec![confd.clone()],
    })
    .unwrap();
    assert_eq!(l.config.api.port, 3000);
    assert_eq!(l.config.api.max_limit, 5);
    assert_eq!(l.config.api.host, "2.2.2.2");
    assert_eq!(l.files.len(), 4);
    let e = Config::load(&ConfigSources {
        files: vec![dir.path().join("missing.conf")],
        dirs: vec![],
    })
    .unwrap_err();
    assert!(e.to_string().contains("missing.conf"), "{e}");
}

#[test]
fn default_search_places() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let etc = root.path().join("etc");
    std::fs::create_dir_all(home.join(".gnocchi")).unwrap();
    std::fs::create_dir_all(etc.join("gnocchi/gnocchi.conf.d")).unwrap();
    assert_eq!(
        ConfigSources::default_search(Some(&home), &etc),
        ConfigSources {
            files: vec![],
            dirs: vec![etc.join("gnocchi/gnocchi.conf.d")]
        }
    );
    write_file(&etc.join("gnocchi.conf"), "");
    write_file(&home.join("gnocchi.conf"), "");
    assert_eq!(
        ConfigSources::default_search(Some(&home), &etc).files,
        vec![home.join("gnocchi.conf")]
    );
    write_file(&home.join(".gnocchi/gnocchi.conf"), "");
    assert_eq!(
        ConfigSources::default_search(Some(&home), &etc).files,
        vec![home.join(".gnocchi/gnocchi.conf")]
    );
    assert_eq!(
        ConfigSources::default_search(None, &etc).files,
        vec![etc.join("gnocchi.conf")]
    );
}

const SAMPLE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../etc/gnocchi.conf.sample");

/// `etc/gnocchi.conf.sample` is the generator's output. Regenerate with
/// `GNOCCHI_BLESS_SAMPLE=1 cargo test -p gnocchi-core sample_file`.
#[test]
fn sample_file_is_up_to_date() {
    let generated = sample();
    if std::env::var_os("GNOCCHI_BLESS_SAMPLE").is_some() {
        write_file(Path::new(SAMPLE_PATH), &generated);
    }
    let committed = std::fs::read_to_string(SAMPLE_PATH).unwrap_or_default();
    assert!(
        committed == generated,
        "etc/gnocchi.conf.sample is stale: run gnocchi-config-generator \
         --output-file etc/gnocchi.conf.sample (or GNOCCHI_BLESS_SAMPLE=1 cargo test)"
    );
}

#[test]
fn sample_loads_back_to_the_defaults() {
    let text = sample();
    let l = load(&text);
    assert_eq!(l.config, Config::default());
    assert!(l.warnings.is_empty());
    // Uncommenting every assignment with a default must also give the defaults.
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => {
                if rest.ends_with("<None>") {
                    String::new()
                } else {
                    rest.to_owned()
                }
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(uncommented.contains("\nport = 8041\n"));
    let l = load(&uncommented);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.config, Config::default());
}

#[test]
fn sample_shows_help_type_and_default() {
    let text = sample();
    assert!(text.contains("\n[api]\n"));
    assert!(text.contains("# The port the API listens on. (port value)\n#port = 8041\n"));
    assert!(text.contains("#auth_mode = basic\n"));
    assert!(text.contains("# Possible values: basic, remoteuser, keystone, noauth\n"));
    assert!(text.contains("# Deprecated name: [database] connection\n#url = <None>\n"));
    assert!(text.contains("#driver = ${storage.driver}\n"));
    assert!(text.contains("#default_aggregation_methods = mean,min,max,sum,std,count\n"));
    assert!(text.contains("# Minimum value: 0\n# Maximum value: 32\n#file_subdir_len = 2\n"));
    for line in text.lines().filter(|l| l.starts_with("# ")) {
        assert!(line.len() <= 79, "help line too long: {line}");
    }
}

#[test]
fn secrets_are_masked_in_logs_and_debug() {
    let l = load("[indexer]\nurl = sqlite:////srv/s3cr3t.db\n[storage]\nswift_key = hunter2\n");
    let lines = l.config.log_lines();
    assert!(
        lines.contains(&"[indexer] url = ****".to_owned()),
        "{lines:?}"
    );
    assert!(lines.contains(&"[api] port = 8041".to_owned()), "{lines:?}");
    assert!(
        lines.contains(&"[DEFAULT] log_dir = <None>".to_owned()),
        "{lines:?}"
    );
    let all = lines.join("\n");
    assert!(!all.contains("s3cr3t") && !all.contains("hunter2"), "{all}");
    let debug = format!("{:?}", l.config);
    assert!(
        !debug.contains("s3cr3t") && !debug.contains("hunter2"),
        "{debug}"
    );
    assert!(debug.contains("port: 8041"), "{debug}");
}
