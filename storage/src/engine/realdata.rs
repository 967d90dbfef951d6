//! Split sizes on real shard files: decodes every stored split, re-encodes it with the current
//! encoder, checks the round trip bit for bit and prints bytes stored vs re-encoded per
//! (granularity, method). Ignored by default (it needs the files):
//!
//! `GNOCCHI_SHARDS=/var/tmp/codec-data cargo test -p gnocchi-storage --release --lib realdata -- --ignored --nocapture`

use std::collections::BTreeMap;

use rusqlite::{Connection, OpenFlags};

use super::bits::ByteReader;
use super::{decode_split, encode_split};

/// Bytes stored and re-encoded, and the number of splits, of one (granularity, method).
#[derive(Default)]
struct Tally {
    splits: u64,
    old: u64,
    new: u64,
}

/// The stored entries of a bundle (see `aggregate/packed.rs`): references to an earlier
/// entry are skipped, as they cost no split bytes.
fn stored_entries(data: &[u8]) -> Option<Vec<(String, &[u8])>> {
    let mut r = ByteReader::new(data);
    let n = r.varint()?;
    let mut out = Vec::new();
    for _ in 0..n {
        let method = std::str::from_utf8(r.prefixed()?).ok()?.to_owned();
        if r.varint()? == 0 {
            out.push((method, r.prefixed()?));
        }
    }
    Some(out)
}

/// A read-only connection to a shard. Immutable: the copies are read-only, maybe in WAL mode.
fn open_shard(path: &std::path::Path) -> Connection {
    let uri = format!("file:{}?immutable=1", path.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    Connection::open_with_flags(uri, flags).expect("opens shard")
}

fn shard_paths() -> Vec<std::path::PathBuf> {
    let dir = std::env::var("GNOCCHI_SHARDS").unwrap_or("/var/tmp/codec-data".into());
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("reads shard dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .collect();
    paths.sort();
    paths
}

fn tally_shard(path: &std::path::Path, tallies: &mut BTreeMap<(i64, String), Tally>) {
    let conn = open_shard(path);
    let mut stmt = conn
        .prepare("SELECT granularity, start, data FROM split")
        .expect("prepares");
    let mut rows = stmt.query([]).expect("queries");
    while let Some(row) = rows.next().expect("reads row") {
        let (g, key, data): (i64, i64, Vec<u8>) = (
            row.get(0).expect("g"),
            row.get(1).expect("start"),
            row.get(2).expect("data"),
        );
        for (method, bytes) in stored_entries(&data).expect("valid bundle") {
            let series = decode_split(bytes, key, g).expect("valid split");
            let new = encode_split(key, g, &series);
            let back = decode_split(&new, key, g).expect("re-encoded split decodes");
            assert_eq!(back.ts, series.ts);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&back.values),
                bits(&series.values),
                "{method} at {key}"
            );
            let t = tallies.entry((g, method)).or_default();
            t.splits += 1;
            t.old += bytes.len() as u64;
            t.new += new.len() as u64;
        }
    }
}

#[test]
#[ignore = "needs shard files: set GNOCCHI_SHARDS"]
fn realdata_split_sizes() {
    let paths = shard_paths();
    let mut tallies = BTreeMap::new();
    for p in &paths {
        tally_shard(p, &mut tallies);
    }
    let (mut old, mut new) = (0u64, 0u64);
    println!(
        "{:>6} {:<12} {:>7} {:>10} {:>10} {:>7}",
        "g (s)", "method", "splits", "old B", "new B", "Δ"
    );
    for ((g, method), t) in &tallies {
        println!(
            "{:>6} {:<12} {:>7} {:>10} {:>10} {:>+6.1}%",
            g / 1_000_000_000,
            method,
            t.splits,
            t.old,
            t.new,
            pct(t.old, t.new)
        );
        old += t.old;
        new += t.new;
    }
    println!(
        "total {} shards: {old} -> {new} bytes ({:+.2}%)",
        paths.len(),
        pct(old, new)
    );
}

fn pct(old: u64, new: u64) -> f64 {
    (new as f64 - old as f64) * 100.0 / old.max(1) as f64
}

/// Decode time of all stored splits vs their re-encodings, interleaved and the best of several
/// rounds so that a loaded machine affects both alike. Run with `--release`.
#[test]
#[ignore = "needs shard files: set GNOCCHI_SHARDS"]
fn realdata_decode_time() {
    let mut splits = Vec::new();
    for p in shard_paths() {
        let conn = open_shard(&p);
        let mut stmt = conn
            .prepare("SELECT granularity, start, data FROM split")
            .expect("sql");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, Vec<u8>>(2)?)))
            .expect("queries");
        for row in rows {
            let (g, key, data): (i64, i64, Vec<u8>) = row.expect("row");
            for (_, bytes) in stored_entries(&data).expect("valid bundle") {
                let new = encode_split(key, g, &decode_split(bytes, key, g).expect("valid"));
                splits.push((g, key, bytes.to_vec(), new));
            }
        }
    }
    let time = |new: bool| {
        let start = std::time::Instant::now();
        for (g, key, old_bytes, new_bytes) in &splits {
            let bytes = if new { new_bytes } else { old_bytes };
            std::hint::black_box(decode_split(std::hint::black_box(bytes), *key, *g));
        }
        start.elapsed()
    };
    let (mut old, mut new) = (std::time::Duration::MAX, std::time::Duration::MAX);
    for _ in 0..15 {
        old = old.min(time(false));
        new = new.min(time(true));
    }
    println!(
        "decode {} splits: stored {old:?}, re-encoded {new:?}",
        splits.len()
    );
    let series: Vec<_> = splits
        .iter()
        .map(|(g, key, bytes, _)| (*g, *key, decode_split(bytes, *key, *g).expect("valid")))
        .collect();
    let mut encode = std::time::Duration::MAX;
    for _ in 0..15 {
        let start = std::time::Instant::now();
        for (g, key, s) in &series {
            std::hint::black_box(encode_split(*key, *g, std::hint::black_box(s)));
        }
        encode = encode.min(start.elapsed());
    }
    println!("encode {} splits: {encode:?}", series.len());
}
