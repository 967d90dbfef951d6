//! The committed sample, read from disk through `Config::load` as the binaries do.

use std::path::PathBuf;

use gnocchi_core::config::{Config, ConfigSources};

fn sample_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../etc/gnocchi.conf.sample"
    ))
}

#[test]
fn committed_sample_loads_to_the_defaults() {
    let loaded = Config::load(&ConfigSources {
        files: vec![sample_path()],
        dirs: vec![],
    })
    .expect("the sample loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.files, vec![sample_path()]);
    let mut config = loaded.config;
    // `[indexer] url` may come from GNOCCHI_INDEXER_URL in the test environment.
    config.indexer = Config::default().indexer;
    assert_eq!(config, Config::default());
}

#[test]
fn committed_sample_is_the_generated_one() {
    let committed = std::fs::read_to_string(sample_path()).expect("etc/gnocchi.conf.sample exists");
    assert!(
        committed == gnocchi_core::config::sample(),
        "etc/gnocchi.conf.sample is stale"
    );
}

#[test]
fn a_config_dir_is_read_after_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let confd = dir.path().join("gnocchi.conf.d");
    std::fs::create_dir(&confd).expect("mkdir");
    let mut f = std::fs::File::create(confd.join("api.conf")).expect("create");
    std::io::Write::write_all(
        &mut f,
        b"[api]\nport = 9999\n[oslo_messaging_rabbit]\nrabbit_host = x\n",
    )
    .expect("write");
    let loaded = Config::load(&ConfigSources {
        files: vec![sample_path()],
        dirs: vec![confd],
    })
    .expect("loads");
    assert_eq!(loaded.config.api.port, 9999);
    assert_eq!(
        loaded.warnings,
        ["unknown option rabbit_host in section [oslo_messaging_rabbit] ignored"]
    );
}
