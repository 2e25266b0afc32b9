//! The disk tier: one file per entry under a directory, an in-memory index rebuilt at startup
//! by scanning, a byte limit with least-recently-used eviction, atomic writes (temp file, then
//! rename). A truncated or corrupt file is a miss and is deleted, never served.
//!
//! The file format is in [`super::disk_file`].

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::disk_file::{
    decode_file, encode_file, hash_key, parse_file_name, scan_file, EXT, MAX_KEY_LEN, MAX_META_LEN,
};
use super::{CachedResponse, Storage};
use crate::metrics::StoreMetrics;

/// Limits of the disk tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskOptions {
    /// Total bytes of entry files.
    pub max_bytes: u64,
    /// The largest entry file; larger entries are not stored.
    pub max_entry_bytes: u64,
    /// `fsync` each file before it is renamed into place (durable across power loss; slower).
    pub fsync: bool,
}

impl DiskOptions {
    /// At most `max_bytes`, entries up to a quarter of it, no fsync (a torn file is caught by
    /// its checksum anyway).
    pub fn new(max_bytes: u64) -> DiskOptions {
        DiskOptions {
            max_bytes,
            max_entry_bytes: max_bytes / 4,
            fsync: false,
        }
    }
}

struct Slot {
    key: String,
    size: u64,
    tick: u64,
    generation: u64,
}

#[derive(Default)]
struct Index {
    /// key hash → slot
    slots: HashMap<u64, Slot>,
    /// tick → key hash, oldest first
    lru: BTreeMap<u64, u64>,
    bytes: u64,
    next_tick: u64,
}

impl Index {
    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    fn remove(&mut self, hash: u64) -> Option<Slot> {
        let slot = self.slots.remove(&hash)?;
        self.lru.remove(&slot.tick);
        self.bytes = self.bytes.saturating_sub(slot.size);
        Some(slot)
    }

    fn put(&mut self, hash: u64, key: String, size: u64, generation: u64) {
        self.remove(hash);
        let tick = self.tick();
        self.lru.insert(tick, hash);
        self.slots.insert(
            hash,
            Slot {
                key,
                size,
                tick,
                generation,
            },
        );
        self.bytes += size;
    }
}

/// The disk tier.
pub struct DiskStore {
    dir: PathBuf,
    opts: DiskOptions,
    index: Mutex<Index>,
    metrics: StoreMetrics,
    seq: AtomicU64,
}

enum ReadOutcome {
    Hit(Box<CachedResponse>),
    Missing,
    Corrupt,
}

impl DiskStore {
    /// Opens (creating it if needed) the tier at `dir`, rebuilding the index from the files
    /// there: files with a bad header, a wrong length or a name that does not match their key
    /// are deleted; leftover temp files too. Then evicts down to the byte limit.
    pub fn open(
        dir: impl Into<PathBuf>,
        opts: DiskOptions,
        metrics: StoreMetrics,
    ) -> io::Result<DiskStore> {
        let dir = dir.into();
        fs::create_dir_all(dir.join("tmp"))?;
        for e in fs::read_dir(dir.join("tmp"))?.flatten() {
            let _ = fs::remove_file(e.path());
        }
        let mut found: Vec<(SystemTime, u64, String, u64)> = Vec::new();
        for shard in fs::read_dir(&dir)?.flatten() {
            let name = shard.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.len() != 2
                || !name.bytes().all(|b| b.is_ascii_hexdigit())
                || !shard.path().is_dir()
            {
                continue;
            }
            for f in fs::read_dir(shard.path())?.flatten() {
                let path = f.path();
                let Some(hash) = parse_file_name(&path) else {
                    continue;
                };
                match scan_file(&path, hash) {
                    Some((key, size, mtime)) => found.push((mtime, hash, key, size)),
                    None => {
                        metrics.corrupt.inc();
                        let _ = fs::remove_file(&path);
                    }
                }
            }
        }
        found.sort_by_key(|x| x.0);
        let mut index = Index::default();
        for (_, hash, key, size) in found {
            index.put(hash, key, size, 0);
        }
        let store = DiskStore {
            dir,
            opts,
            index: Mutex::new(index),
            metrics,
            seq: AtomicU64::new(1),
        };
        {
            let mut index = store.lock();
            store.evict(&mut index, None);
            store.metrics.set_size(index.bytes, index.slots.len());
        }
        Ok(store)
    }

    /// The directory of this tier.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The limits of this tier.
    pub fn options(&self) -> DiskOptions {
        self.opts
    }

    /// The file that holds `key` (whether or not it exists).
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.path_for(hash_key(key))
    }

    fn path_for(&self, hash: u64) -> PathBuf {
        let name = format!("{hash:016x}");
        self.dir.join(&name[..2]).join(format!("{name}.{EXT}"))
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Evicts least recently used entries until within the byte limit, sparing `keep`.
    fn evict(&self, index: &mut Index, keep: Option<u64>) {
        while index.bytes > self.opts.max_bytes {
            let victim = index.lru.values().copied().find(|h| Some(*h) != keep);
            let Some(hash) = victim else { break };
            index.remove(hash);
            let _ = fs::remove_file(self.path_for(hash));
            self.metrics.evictions.inc();
        }
    }

    fn read(&self, key: &str, hash: u64) -> ReadOutcome {
        match fs::read(self.path_for(hash)) {
            Ok(data) => match decode_file(data, key) {
                Some(e) => ReadOutcome::Hit(Box::new(e)),
                None => ReadOutcome::Corrupt,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => ReadOutcome::Missing,
            Err(_) => ReadOutcome::Corrupt,
        }
    }

    fn write_temp(&self, bytes: &[u8]) -> io::Result<PathBuf> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let path = self
            .dir
            .join("tmp")
            .join(format!("{}-{seq}.tmp", std::process::id()));
        let mut f = File::create(&path)?;
        let written = f.write_all(bytes).and_then(|()| {
            if self.opts.fsync {
                f.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(path)
    }
}

impl Storage for DiskStore {
    fn get(&self, key: &str) -> Option<Arc<CachedResponse>> {
        let hash = hash_key(key);
        let generation = {
            let mut index = self.lock();
            let tick = index.tick();
            match index.slots.get_mut(&hash) {
                Some(slot) if slot.key == key => {
                    let old = std::mem::replace(&mut slot.tick, tick);
                    let generation = slot.generation;
                    index.lru.remove(&old);
                    index.lru.insert(tick, hash);
                    Some(generation)
                }
                _ => None,
            }
        };
        let Some(generation) = generation else {
            self.metrics.misses.inc();
            return None;
        };
        match self.read(key, hash) {
            ReadOutcome::Hit(e) => {
                self.metrics.hits.inc();
                Some(Arc::new(*e))
            }
            bad => {
                let mut index = self.lock();
                // Only if no newer write replaced the file meanwhile.
                if index
                    .slots
                    .get(&hash)
                    .is_some_and(|s| s.generation == generation)
                {
                    index.remove(hash);
                    if matches!(bad, ReadOutcome::Corrupt) {
                        let _ = fs::remove_file(self.path_for(hash));
                        self.metrics.corrupt.inc();
                    }
                }
                self.metrics.set_size(index.bytes, index.slots.len());
                drop(index);
                self.metrics.misses.inc();
                None
            }
        }
    }

    fn insert(&self, key: &str, entry: Arc<CachedResponse>) -> bool {
        let meta = entry.encode_meta();
        let file = encode_file(key, &meta, &entry.body);
        let size = file.len() as u64;
        let hash = hash_key(key);
        let too_big = size > self.opts.max_entry_bytes || size > self.opts.max_bytes;
        if too_big || key.len() > MAX_KEY_LEN as usize || meta.len() > MAX_META_LEN as usize {
            self.remove(key);
            return false;
        }
        let final_path = self.path_for(hash);
        if let Some(parent) = final_path.parent() {
            if fs::create_dir_all(parent).is_err() {
                return false;
            }
        }
        let Ok(tmp) = self.write_temp(&file) else {
            return false;
        };
        let generation = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut index = self.lock();
        if fs::rename(&tmp, &final_path).is_err() {
            drop(index);
            let _ = fs::remove_file(&tmp);
            return false;
        }
        index.put(hash, key.to_string(), size, generation);
        self.evict(&mut index, Some(hash));
        self.metrics.inserts.inc();
        self.metrics.set_size(index.bytes, index.slots.len());
        true
    }

    fn remove(&self, key: &str) -> bool {
        let hash = hash_key(key);
        let mut index = self.lock();
        if index.slots.get(&hash).is_none_or(|s| s.key != key) {
            return false;
        }
        index.remove(hash);
        let _ = fs::remove_file(self.path_for(hash));
        self.metrics.set_size(index.bytes, index.slots.len());
        true
    }

    fn purge(&self, pred: &dyn Fn(&str) -> bool) -> usize {
        let mut index = self.lock();
        let victims: Vec<u64> = index
            .slots
            .iter()
            .filter(|(_, s)| pred(&s.key))
            .map(|(h, _)| *h)
            .collect();
        for hash in &victims {
            index.remove(*hash);
            let _ = fs::remove_file(self.path_for(*hash));
        }
        self.metrics.set_size(index.bytes, index.slots.len());
        victims.len()
    }

    fn len(&self) -> usize {
        self.lock().slots.len()
    }

    fn bytes(&self) -> u64 {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::super::disk_file::HEADER_LEN;
    use super::*;
    use crate::store::sample;
    use bytes::Bytes;

    /// A unique directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(name: &str) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir()
                .join(format!("edgeway-cache-{name}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn entry(body: &'static [u8]) -> Arc<CachedResponse> {
        Arc::new(sample(body))
    }

    fn open(dir: &TempDir, max: u64) -> DiskStore {
        DiskStore::open(
            &dir.0,
            DiskOptions {
                max_bytes: max,
                max_entry_bytes: max,
                fsync: false,
            },
            StoreMetrics::detached(),
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_restart_over_a_warm_directory() {
        let dir = TempDir::new("warm");
        {
            let s = open(&dir, 1 << 20);
            assert!(s.get("/a").is_none());
            assert!(s.insert("/a", entry(b"alpha")));
            assert!(s.insert("/b", entry(b"beta")));
            assert_eq!(s.get("/a").unwrap().as_ref(), &sample(b"alpha"));
            assert_eq!(s.len(), 2);
        }
        let m = edgeway_http::metrics::Metrics::new();
        let s = DiskStore::open(
            &dir.0,
            DiskOptions::new(1 << 20),
            StoreMetrics::new(&m, "disk"),
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.get("/a").unwrap().as_ref(), &sample(b"alpha"));
        assert_eq!(s.get("/b").unwrap().body, Bytes::from_static(b"beta"));
        assert!(s.bytes() > 0);
        assert_eq!(m.value("edgeway_cache_hits_total", &[("tier", "disk")]), 2);
        assert_eq!(m.value("edgeway_cache_entries", &[("tier", "disk")]), 2);
    }

    #[test]
    fn replace_remove_purge() {
        let dir = TempDir::new("purge");
        let s = open(&dir, 1 << 20);
        s.insert("/img/a", entry(b"1"));
        s.insert("/img/a", entry(b"2"));
        s.insert("/img/b", entry(b"3"));
        s.insert("/css/c", entry(b"4"));
        assert_eq!(s.len(), 3);
        assert_eq!(s.get("/img/a").unwrap().body, Bytes::from_static(b"2"));
        assert_eq!(s.purge_prefix("/img/"), 2);
        assert!(s.get("/img/b").is_none());
        assert!(!s.path_of("/img/b").exists());
        assert!(s.remove("/css/c"));
        assert!(!s.remove("/css/c"));
        assert_eq!((s.len(), s.bytes()), (0, 0));
        drop(s);
        assert_eq!(open(&dir, 1 << 20).len(), 0);
    }

    #[test]
    fn corrupt_and_truncated_files_are_misses_and_deleted() {
        let dir = TempDir::new("corrupt");
        let metrics = StoreMetrics::detached();
        let s = DiskStore::open(&dir.0, DiskOptions::new(1 << 20), metrics.clone()).unwrap();
        for k in ["/flip", "/trunc", "/junk", "/empty"] {
            assert!(s.insert(k, entry(b"some body bytes")));
        }
        // a flipped body byte
        let p = s.path_of("/flip");
        let mut data = fs::read(&p).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        fs::write(&p, data).unwrap();
        // truncated
        let p = s.path_of("/trunc");
        let data = fs::read(&p).unwrap();
        fs::write(&p, &data[..data.len() - 3]).unwrap();
        // garbage and empty
        fs::write(s.path_of("/junk"), b"not a cache file").unwrap();
        fs::write(s.path_of("/empty"), b"").unwrap();
        for k in ["/flip", "/trunc", "/junk", "/empty"] {
            assert!(s.get(k).is_none(), "{k} served");
            assert!(!s.path_of(k).exists(), "{k} not deleted");
        }
        assert_eq!(metrics.corrupt.get(), 4);
        assert_eq!((s.len(), s.bytes()), (0, 0));
        // a file deleted behind our back is a plain miss
        s.insert("/gone", entry(b"x"));
        fs::remove_file(s.path_of("/gone")).unwrap();
        assert!(s.get("/gone").is_none());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn startup_scan_drops_bad_files_and_temp_files() {
        let dir = TempDir::new("scan");
        let (good, trunc, renamed) = {
            let s = open(&dir, 1 << 20);
            s.insert("/good", entry(b"good"));
            s.insert("/trunc", entry(b"trunc"));
            s.insert("/renamed", entry(b"renamed"));
            (
                s.path_of("/good"),
                s.path_of("/trunc"),
                s.path_of("/renamed"),
            )
        };
        let data = fs::read(&trunc).unwrap();
        fs::write(&trunc, &data[..HEADER_LEN + 2]).unwrap();
        // a file whose name does not match its key
        let wrong = renamed.with_file_name("0123456789abcdef.ewc");
        fs::rename(&renamed, &wrong).unwrap();
        fs::write(dir.0.join("tmp").join("1-1.tmp"), b"partial").unwrap();
        fs::write(dir.0.join("README"), b"unrelated files are left alone").unwrap();
        let s = open(&dir, 1 << 20);
        assert_eq!(s.len(), 1);
        assert!(good.exists() && !trunc.exists() && !wrong.exists());
        assert_eq!(fs::read_dir(dir.0.join("tmp")).unwrap().count(), 0);
        assert!(dir.0.join("README").exists());
        assert_eq!(s.get("/good").unwrap().body, Bytes::from_static(b"good"));
    }

    #[test]
    fn byte_limit_evicts_least_recently_used() {
        let dir = TempDir::new("evict");
        let probe =
            encode_file("/k0", &sample(b"0123456789").encode_meta(), b"0123456789").len() as u64;
        let metrics = StoreMetrics::detached();
        let s = DiskStore::open(
            &dir.0,
            DiskOptions {
                max_bytes: probe * 3,
                max_entry_bytes: probe * 3,
                fsync: true,
            },
            metrics.clone(),
        )
        .unwrap();
        for k in ["/k0", "/k1", "/k2"] {
            assert!(s.insert(k, entry(b"0123456789")));
        }
        assert!(s.get("/k0").is_some()); // /k1 is now the least recently used
        assert!(s.insert("/k3", entry(b"0123456789")));
        assert_eq!(s.len(), 3);
        assert!(s.bytes() <= probe * 3);
        assert!(s.get("/k1").is_none());
        assert!(!s.path_of("/k1").exists());
        assert!(s.get("/k0").is_some() && s.get("/k3").is_some());
        assert_eq!(metrics.evictions.get(), 1);
        // too large for the tier: not stored
        let big = Arc::new(CachedResponse {
            body: Bytes::from(vec![0u8; (probe * 4) as usize]),
            ..sample(b"")
        });
        assert!(!s.insert("/big", big));
        assert!(s.get("/big").is_none());
        // a smaller limit at restart evicts down to it
        drop(s);
        let s = open(&dir, probe);
        assert_eq!(s.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_and_readers_never_see_a_torn_entry() {
        let dir = TempDir::new("concurrent");
        let metrics = StoreMetrics::detached();
        let s =
            Arc::new(DiskStore::open(&dir.0, DiskOptions::new(1 << 22), metrics.clone()).unwrap());
        let bodies: [&'static [u8]; 3] = [
            b"aaaaaaaaaaaaaaaa",
            b"bbbbbbbb",
            b"cccccccccccccccccccccccccccc",
        ];
        let mut tasks = Vec::new();
        for t in 0..8usize {
            let s = s.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                let mut hits = 0;
                for i in 0..200usize {
                    let key = format!("/k{}", i % 4);
                    if (t + i) % 3 == 0 {
                        assert!(s.insert(&key, entry(bodies[t % 3])));
                    } else if let Some(e) = s.get(&key) {
                        assert!(bodies.contains(&e.body.as_ref()), "torn body {:?}", e.body);
                        hits += 1;
                    }
                }
                hits
            }));
        }
        let mut hits = 0;
        for t in tasks {
            hits += t.await.unwrap();
        }
        assert!(hits > 0);
        assert_eq!(metrics.corrupt.get(), 0);
        assert_eq!(s.len(), 4);
        let files: usize = fs::read_dir(&dir.0)
            .unwrap()
            .flatten()
            .filter(|d| d.file_name() != "tmp")
            .map(|d| fs::read_dir(d.path()).unwrap().count())
            .sum();
        assert_eq!(files, 4, "one file per key, no leftovers");
        assert_eq!(fs::read_dir(dir.0.join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(hash_key(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_key("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
