use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::entry::tests::sample;
use super::*;

fn cache_in(dir: &Path, max_bytes: u64) -> CompileCache {
    CompileCache::open(&CompileCacheConfig {
        dir: dir.to_path_buf(),
        max_bytes,
    })
    .unwrap()
}

/// Stores, then scans and evicts when that is due (as the engine does).
fn store(cache: &CompileCache, key: &Key, entry: &Entry) {
    if cache.put(key, entry) {
        cache.scan_and_evict();
    }
}

fn tmp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("tmp")).unwrap().count()
}

fn set_age(cache: &CompileCache, key: &Key, age: Duration) {
    let f = File::options()
        .write(true)
        .open(cache.path_of(key))
        .unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn an_entry_is_found_again_after_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let key = Key([1; 32]);
    let cache = cache_in(d.path(), 1 << 20);
    assert_eq!(cache.get(&key), None);
    store(&cache, &key, &sample(1));
    assert_eq!(cache.get(&key), Some(sample(1)));
    assert_eq!(tmp_files(d.path()), 0, "the temporary file was renamed");
    drop(cache);
    let again = cache_in(d.path(), 1 << 20);
    assert_eq!(again.get(&key), Some(sample(1)));
    assert_eq!(again.get(&Key([2; 32])), None);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// A damaged entry (a flipped byte, a cut file, another key's entry under
/// this name) is a miss, is removed, and is counted.
#[test]
fn a_corrupt_entry_is_a_miss_and_is_removed() {
    let d = tempfile::tempdir().unwrap();
    let cache = cache_in(d.path(), 1 << 20);
    let key = Key([3; 32]);
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let damages: Vec<Damage> = vec![
        Box::new(|b| {
            let n = b.len() - 2;
            b[n] ^= 0x20;
        }),
        Box::new(|b| b.truncate(b.len() / 2)),
        Box::new(|b| *b = sample(9).encode(&Key([4; 32]))),
        Box::new(|b| b.clear()),
    ];
    for (i, damage) in damages.iter().enumerate() {
        store(&cache, &key, &sample(2));
        let path = cache.path_of(&key);
        let mut bytes = std::fs::read(&path).unwrap();
        damage(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.get(&key), None, "damage {i}");
        assert!(!path.exists(), "damage {i}: the entry was not removed");
        assert_eq!(cache.stats().corrupt, i as u64 + 1);
    }
    store(&cache, &key, &sample(2));
    assert_eq!(cache.get(&key), Some(sample(2)), "rewritten after removal");
}

/// Over the budget, the least recently used entries go first, down to 90 %
/// of it; a hit makes an entry recent.
#[test]
fn the_least_recently_used_entries_are_evicted_under_the_budget() {
    let d = tempfile::tempdir().unwrap();
    let one = sample(0).encode(&Key([0; 32])).len() as u64;
    // Room for four entries, not five.
    let cache = cache_in(d.path(), one * 4 + one / 2);
    let keys: Vec<Key> = (10..14).map(|i| Key([i; 32])).collect();
    for (i, k) in keys.iter().enumerate() {
        store(&cache, k, &sample(i as u8));
        // Oldest first: keys[0] used 40 minutes ago, keys[3] 10.
        set_age(&cache, k, Duration::from_secs(600 * (4 - i as u64)));
    }
    assert_eq!(cache.stats().evictions, 0);
    // A hit on the oldest makes it the most recent.
    assert!(cache.get(&keys[0]).is_some());
    let fifth = Key([20; 32]);
    store(&cache, &fifth, &sample(5));
    let left: Vec<bool> = keys.iter().map(|k| cache.get(k).is_some()).collect();
    // 5 entries > budget; down to 90 % (4.05 entries): one goes, the least
    // recently used: keys[1].
    assert_eq!(left, [true, false, true, true]);
    assert!(cache.get(&fifth).is_some());
    let s = cache.stats();
    assert_eq!(s.evictions, 1);
    assert!(s.bytes <= cache.max_bytes, "{s:?}");
    assert_eq!(s.bytes, one * 4);
}

/// Entries bigger than an eighth of the budget are not stored.
#[test]
fn an_entry_over_the_size_cap_is_not_stored() {
    let d = tempfile::tempdir().unwrap();
    let cache = cache_in(d.path(), 8 * 1024);
    let mut big = sample(1);
    big.artifacts[0].data = vec![0; 2048];
    store(&cache, &Key([5; 32]), &big);
    assert_eq!(cache.get(&Key([5; 32])), None);
    assert_eq!(cache.stats().stores, 0);
}

/// Writers of one key in several threads and two handles on the same
/// directory (two nodes sharing it): every read sees a whole entry or none,
/// nothing is ever corrupt, and no temporary file is left.
#[test]
fn concurrent_writers_of_one_key_never_expose_a_partial_entry() {
    let d = tempfile::tempdir().unwrap();
    let nodes = [
        Arc::new(cache_in(d.path(), 64 << 20)),
        Arc::new(cache_in(d.path(), 64 << 20)),
    ];
    let key = Key([6; 32]);
    let mut entry = sample(6);
    // Big enough that a write takes several system calls.
    entry.artifacts[0].data = (0..2 << 20).map(|i| (i % 251) as u8).collect();
    let entry = Arc::new(entry);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for t in 0..6 {
        let (cache, entry) = (nodes[t % 2].clone(), entry.clone());
        writers.push(std::thread::spawn(move || {
            for _ in 0..10 {
                store(&cache, &key, &entry);
            }
        }));
    }
    let mut readers = Vec::new();
    for node in &nodes {
        let (cache, entry, stop) = (node.clone(), entry.clone(), stop.clone());
        readers.push(std::thread::spawn(move || {
            let mut seen = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Some(e) = cache.get(&key) {
                    assert_eq!(e, *entry);
                    seen += 1;
                }
            }
            seen
        }));
    }
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    for n in &nodes {
        assert_eq!(n.stats().corrupt, 0);
        assert_eq!(n.get(&key).as_ref(), Some(&*entry));
    }
    assert_eq!(tmp_files(d.path()), 0);
}

/// A temporary file left by a writer that died is removed once it is old.
#[test]
fn stale_temporary_files_are_removed_by_a_scan() {
    let d = tempfile::tempdir().unwrap();
    let cache = cache_in(d.path(), 1 << 20);
    let stale = d.path().join("tmp/dead-writer");
    let fresh = d.path().join("tmp/live-writer");
    std::fs::write(&stale, b"half").unwrap();
    std::fs::write(&fresh, b"half").unwrap();
    File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - STALE_TMP * 2)
        .unwrap();
    cache.scan_and_evict();
    assert!(!stale.exists());
    assert!(fresh.exists());
}
