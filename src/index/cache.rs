//! The on-disk index: one SQLite database per folder, one row per photo with its embedding.
//! WAL mode and one transaction per batch: a crash or kill -9 loses at most the batch in
//! flight and never leaves a half-written row. Every row is checked as it is read (length,
//! finite values): a damaged one is returned as damaged, never served, so the pipeline embeds
//! its file again. Every error names the database file and what the user can do about it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

use super::scan::FileEntry;
use crate::model::EMBEDDING_DIM;

/// A cached row.
#[derive(Debug, Clone)]
pub struct Row {
    pub size: u64,
    pub mtime_ns: i64,
    pub embedding: Vec<f32>,
}

/// A file that failed to decode, remembered so an unchanged broken file is reported, not
/// decoded again on every run.
#[derive(Debug, Clone)]
pub struct Failure {
    pub size: u64,
    pub mtime_ns: i64,
    pub reason: String,
}

pub struct Cache {
    conn: Connection,
    pub path: PathBuf,
}

/// Path bytes, so non-UTF-8 names round-trip exactly.
#[cfg(unix)]
pub fn path_key(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
pub fn path_key(p: &Path) -> Vec<u8> {
    p.to_string_lossy().as_bytes().to_vec()
}

#[cfg(unix)]
pub fn key_path(k: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(k))
}

#[cfg(not(unix))]
pub fn key_path(k: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(k).into_owned())
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The embedding stored in `b`, if it is one: exactly [`EMBEDDING_DIM`] finite floats.
fn from_blob(b: &[u8]) -> Option<Vec<f32>> {
    if b.len() != EMBEDDING_DIM * 4 {
        return None;
    }
    let v: Vec<f32> = b
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    v.iter().all(|x| x.is_finite()).then_some(v)
}

/// What the user can do about a database error.
const DB_ADVICE: &str =
    "delete the file to rebuild the index, or pass --db PATH to use another database";

impl Cache {
    /// The default database of a folder: in the user's cache directory, named after a hash of
    /// the folder's canonical path (so a read-only photo folder works).
    pub fn default_path(root: &Path) -> Result<PathBuf> {
        let dirs = directories::ProjectDirs::from("", "", "simtui")
            .context("no home directory to put the cache in; pass --db PATH")?;
        let canonical = root
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", root.display()))?;
        let hash = Sha256::digest(path_key(&canonical));
        let name: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(dirs.cache_dir().join(format!("index-{name}.sqlite")))
    }

    pub fn open(path: &Path) -> Result<Cache> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let conn = Connection::open(path).with_context(|| {
            format!("cannot open index database {}: {DB_ADVICE}", path.display())
        })?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS images (
                 path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                 model TEXT NOT NULL, embedding BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS failures (
                 path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                 model TEXT NOT NULL, reason TEXT NOT NULL);",
        )
        .with_context(|| {
            format!(
                "{} is not a usable simtui index: {DB_ADVICE}",
                path.display()
            )
        })?;
        Ok(Cache {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Names the database and the way out on any error of `op`.
    fn db<T>(&self, op: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        op(&self.conn)
            .with_context(|| format!("index database {}: {DB_ADVICE}", self.path.display()))
    }

    /// Sound rows made with `model`, by path key. Rows of other models are ignored (and
    /// replaced as their files are embedded again); damaged rows are left out.
    pub fn rows(&self, model: &str) -> Result<HashMap<Vec<u8>, Row>> {
        Ok(self.rows_checked(model)?.0)
    }

    /// Sound rows made with `model`, and the keys of damaged ones (an embedding of the wrong
    /// length, or with NaN or infinite values), which must be embedded again.
    #[allow(clippy::type_complexity)]
    pub fn rows_checked(&self, model: &str) -> Result<(HashMap<Vec<u8>, Row>, Vec<Vec<u8>>)> {
        self.db(|conn| {
            let mut st = conn
                .prepare("SELECT path, size, mtime_ns, embedding FROM images WHERE model = ?1")?;
            let mut rows = HashMap::new();
            let mut damaged = Vec::new();
            let mut q = st.query([model])?;
            while let Some(r) = q.next()? {
                let key: Vec<u8> = r.get(0)?;
                // A blob of another type (a damaged row) reads as no embedding.
                let blob = r.get::<_, Vec<u8>>(3).ok();
                match blob.as_deref().and_then(from_blob) {
                    Some(embedding) => {
                        let row = Row {
                            size: r.get::<_, i64>(1)? as u64,
                            mtime_ns: r.get(2)?,
                            embedding,
                        };
                        rows.insert(key, row);
                    }
                    None => damaged.push(key),
                }
            }
            Ok((rows, damaged))
        })
    }

    pub fn failures(&self, model: &str) -> Result<HashMap<Vec<u8>, Failure>> {
        self.db(|conn| {
            let mut st =
                conn.prepare("SELECT path, size, mtime_ns, reason FROM failures WHERE model = ?1")?;
            let rows = st.query_map([model], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    Failure {
                        size: r.get::<_, i64>(1)? as u64,
                        mtime_ns: r.get(2)?,
                        reason: r.get(3)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// Every path key in the database, any model.
    pub fn all_keys(&self) -> Result<Vec<Vec<u8>>> {
        self.db(|conn| {
            let mut st = conn.prepare("SELECT path FROM images UNION SELECT path FROM failures")?;
            let keys = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            keys.collect()
        })
    }

    /// Stores one batch in one transaction.
    pub fn store(
        &mut self,
        model: &str,
        ok: &[(&FileEntry, &[f32])],
        failed: &[(&FileEntry, String)],
    ) -> Result<()> {
        let path = self.path.clone();
        self.store_batch(model, ok, failed)
            .with_context(|| format!("index database {}: {DB_ADVICE}", path.display()))
    }

    fn store_batch(
        &mut self,
        model: &str,
        ok: &[(&FileEntry, &[f32])],
        failed: &[(&FileEntry, String)],
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO images (path, size, mtime_ns, model, embedding) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut clear_failure = tx.prepare_cached("DELETE FROM failures WHERE path = ?1")?;
            for (f, e) in ok {
                let key = path_key(&f.rel);
                put.execute(params![key, f.size as i64, f.mtime_ns, model, to_blob(e)])?;
                clear_failure.execute(params![key])?;
            }
            let mut fail = tx.prepare_cached(
                "INSERT OR REPLACE INTO failures (path, size, mtime_ns, model, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut clear_row = tx.prepare_cached("DELETE FROM images WHERE path = ?1")?;
            for (f, reason) in failed {
                let key = path_key(&f.rel);
                fail.execute(params![key, f.size as i64, f.mtime_ns, model, reason])?;
                clear_row.execute(params![key])?;
            }
        }
        tx.commit()
    }

    /// Drops files that are gone.
    pub fn remove(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let path = self.path.clone();
        self.remove_keys(keys)
            .with_context(|| format!("index database {}: {DB_ADVICE}", path.display()))
    }

    fn remove_keys(&mut self, keys: &[Vec<u8>]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut a = tx.prepare_cached("DELETE FROM images WHERE path = ?1")?;
            let mut b = tx.prepare_cached("DELETE FROM failures WHERE path = ?1")?;
            for k in keys {
                a.execute([k])?;
                b.execute([k])?;
            }
        }
        tx.commit()
    }

    /// `PRAGMA integrity_check`: "ok" for a sound database.
    pub fn integrity_check(&self) -> Result<String> {
        self.db(|conn| conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
    }
}
