//! The TUI's background: the indexer (model, cache, embedding), preview decoders and the
//! saliency worker. They talk to the event loop only through [`Msg`]s on one channel, and the
//! event loop talks to them through wish lists that newer wishes replace, so work that is no
//! longer wanted is dropped instead of queued.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use image::RgbImage;

use super::app::{Command, ExplainRequest, Faith, Msg, PairKey, PairMaps};
use super::{log, sanitize};
use crate::decode;
use crate::engine::Embedder;
use crate::explain::faithfulness::{self, Faithfulness};
use crate::explain::{Explainer, PairExplanation, Params, Prepared};
use crate::index::{self, Cache, ScanOptions};
use crate::model::Preprocess;
use crate::render::figure::{self, Panel};
use crate::render::{display_map, fit, overlay, resize_rgb, Scale};

/// Previews (and overlays) are kept at most this many pixels a side: enough for a full-screen
/// panel through a graphics protocol, small enough to keep dozens in memory.
pub const PREVIEW_SIDE: u32 = 768;

pub struct WorkerConfig {
    pub root: PathBuf,
    pub db: PathBuf,
    pub scan: ScanOptions,
    pub weights: Option<PathBuf>,
    pub preprocess: Preprocess,
    pub params: Params,
    pub export_dir: PathBuf,
}

/// A value the event loop replaces and workers take.
struct Wish<T> {
    state: Mutex<WishState<T>>,
    changed: Condvar,
}

struct WishState<T> {
    value: T,
    generation: u64,
    stop: bool,
}

impl<T> Wish<T> {
    fn new(value: T) -> Self {
        Wish {
            state: Mutex::new(WishState {
                value,
                generation: 0,
                stop: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn set(&self, f: impl FnOnce(&mut T)) {
        let mut s = self.state.lock().expect("wish lock");
        f(&mut s.value);
        s.generation += 1;
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.state.lock().expect("wish lock").stop = true;
        self.changed.notify_all();
    }
}

/// Work for the saliency worker: the current pair (latest wins) and exports (all of them).
#[derive(Default)]
struct Explains {
    wanted: Option<ExplainRequest>,
    /// Bumped with every new `wanted` (not by exports, which must not cancel the pair).
    wanted_generation: u64,
    taken: u64,
    exports: VecDeque<ExplainRequest>,
}

type Shared<T> = Arc<(Mutex<Option<Result<T, String>>>, Condvar)>;

pub struct Workers {
    previews: Arc<Wish<Vec<(usize, PathBuf)>>>,
    explains: Arc<Wish<Explains>>,
    stop: Arc<AtomicBool>,
    indexer: Option<JoinHandle<()>>,
    tx: Sender<Msg>,
}

impl Workers {
    pub fn start(tx: Sender<Msg>, config: WorkerConfig) -> Workers {
        let stop = Arc::new(AtomicBool::new(false));
        let embedder: Shared<Arc<Embedder>> = Arc::new((Mutex::new(None), Condvar::new()));
        let config = Arc::new(config);

        let indexer = {
            let (tx, stop, embedder, config) =
                (tx.clone(), stop.clone(), embedder.clone(), config.clone());
            std::thread::Builder::new()
                .name("indexer".into())
                .spawn(move || {
                    let run = std::panic::AssertUnwindSafe(|| {
                        run_indexer(&tx, &stop, &embedder, &config)
                    });
                    let r = match std::panic::catch_unwind(run) {
                        Ok(r) => r.map_err(|e| format!("{e:#}")),
                        Err(p) => Err(format!("internal error: {}", crate::panic_message(&*p))),
                    };
                    if let Err(e) = &r {
                        log::write(&format!("indexing failed: {e}"));
                        // The saliency worker may still wait for the model.
                        let (lock, cv) = &*embedder;
                        let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
                        if slot.is_none() {
                            *slot = Some(Err(e.clone()));
                            cv.notify_all();
                        }
                    }
                    let _ = tx.send(Msg::IndexFinished(r));
                })
                .expect("spawn indexer thread")
        };

        let previews = Arc::new(Wish::new(Vec::new()));
        for i in 0..2 {
            let (tx, wish) = (tx.clone(), previews.clone());
            std::thread::Builder::new()
                .name(format!("preview-{i}"))
                .spawn(move || preview_worker(&tx, &wish))
                .expect("spawn preview thread");
        }

        let explains = Arc::new(Wish::new(Explains::default()));
        {
            let (tx, wish, embedder, config) = (
                tx.clone(),
                explains.clone(),
                embedder.clone(),
                config.clone(),
            );
            std::thread::Builder::new()
                .name("saliency".into())
                .spawn(move || {
                    let Some(embedder) = wait_for(&embedder) else {
                        return;
                    };
                    match embedder {
                        Ok(e) => SaliencyWorker::new(&e, &config, tx).run(&wish),
                        Err(e) => fail_all(&wish, &tx, &e),
                    }
                })
                .expect("spawn saliency thread");
        }

        Workers {
            previews,
            explains,
            stop,
            indexer: Some(indexer),
            tx,
        }
    }

    pub fn send(&self, command: Command) {
        match command {
            Command::Previews(list) => self.previews.set(|v| *v = list),
            Command::Explain(r) => self.explains.set(|e| {
                e.wanted = r;
                e.wanted_generation += 1;
            }),
            Command::Export(r) => self.explains.set(|e| e.exports.push_back(r)),
            Command::Open(path) => open(path, self.tx.clone()),
        }
    }

    /// Stops the workers: the indexer stores the batch in flight (waited for up to `wait`).
    pub fn shutdown(mut self, wait: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        self.previews.stop();
        self.explains.stop();
        if let Some(h) = self.indexer.take() {
            let t = Instant::now();
            while !h.is_finished() && t.elapsed() < wait {
                std::thread::sleep(Duration::from_millis(10));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

fn wait_for<T: Clone>(shared: &Shared<T>) -> Option<Result<T, String>> {
    let (lock, cv) = &**shared;
    let mut g = lock.lock().ok()?;
    while g.is_none() {
        g = cv.wait(g).ok()?;
    }
    g.clone()
}

fn run_indexer(
    tx: &Sender<Msg>,
    stop: &AtomicBool,
    shared: &Shared<Arc<Embedder>>,
    config: &WorkerConfig,
) -> Result<()> {
    let embedder = Embedder::new(config.weights.as_deref(), config.preprocess)
        .map(Arc::new)
        .map_err(|e| format!("{e:#}"));
    {
        let (lock, cv) = &**shared;
        *lock.lock().expect("embedder lock") = Some(embedder.clone());
        cv.notify_all();
    }
    let embedder = embedder.map_err(anyhow::Error::msg)?;
    let _ = tx.send(Msg::ModelReady);
    let mut cache = Cache::open(&config.db)?;
    index::update(
        &embedder,
        &config.root,
        config.scan,
        &mut cache,
        stop,
        &mut |event| {
            let _ = tx.send(Msg::Index(event));
        },
    )?;
    Ok(())
}

fn preview_worker(tx: &Sender<Msg>, wish: &Wish<Vec<(usize, PathBuf)>>) {
    loop {
        let (entry, path) = {
            let mut s = wish.state.lock().expect("preview lock");
            loop {
                if s.stop {
                    return;
                }
                if !s.value.is_empty() {
                    break s.value.remove(0);
                }
                s = wish.changed.wait(s).expect("preview lock");
            }
        };
        let decoded = std::panic::catch_unwind(|| load_preview(&path));
        let result = match decoded {
            Ok(r) => r.map(Arc::new).map_err(|e| decode::reason(&e, &path)),
            Err(p) => Err(format!("internal error: {}", crate::panic_message(&*p))),
        };
        if let Err(reason) = &result {
            log::write(&format!("preview of {}: {reason}", path.display()));
        }
        if tx.send(Msg::Preview { entry, result }).is_err() {
            return;
        }
    }
}

/// The photo, EXIF-oriented, at most [`PREVIEW_SIDE`] a side (reduced-size JPEG decoding).
pub fn load_preview(path: &Path) -> Result<RgbImage> {
    let img = decode::load_rgb_reduced(path, PREVIEW_SIDE / 2)?;
    Ok(shrink(&img))
}

fn shrink(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.max(h) <= PREVIEW_SIDE {
        return img.clone();
    }
    let (tw, th) = fit(w, h, PREVIEW_SIDE, PREVIEW_SIDE);
    resize_rgb(img, tw, th)
}

fn fail_all(wish: &Wish<Explains>, tx: &Sender<Msg>, reason: &str) {
    loop {
        let mut s = wish.state.lock().expect("explain lock");
        while !s.stop && s.value.wanted.is_none() && s.value.exports.is_empty() {
            s = wish.changed.wait(s).expect("explain lock");
        }
        if s.stop {
            return;
        }
        let wanted = s.value.wanted.take();
        let exports: Vec<_> = s.value.exports.drain(..).collect();
        drop(s);
        if let Some(r) = wanted {
            let _ = tx.send(Msg::Map {
                key: r.key,
                result: Err(reason.to_string()),
            });
        }
        for _ in exports {
            let _ = tx.send(Msg::Exported(Err(reason.to_string())));
        }
    }
}

/// A photo ready to explain and to draw on.
struct Loaded {
    /// Full resolution (for exports).
    photo: RgbImage,
    prepared: Prepared,
}

struct Computed {
    pair: PairExplanation,
    millis: f64,
    faith: Option<[Faithfulness; 2]>,
}

enum Job {
    Explain(ExplainRequest, u64),
    Export(ExplainRequest),
}

struct SaliencyWorker<'a> {
    explainer: Explainer<'a>,
    config: &'a WorkerConfig,
    tx: Sender<Msg>,
    loaded: HashMap<PathBuf, Arc<Loaded>>,
    loaded_order: VecDeque<PathBuf>,
    computed: HashMap<PairKey, Computed>,
    computed_order: VecDeque<PairKey>,
}

type LoadedPair = (Arc<Loaded>, Arc<Loaded>);

/// Returned when a newer wish replaced the job being computed.
struct Cancelled;

impl<'a> SaliencyWorker<'a> {
    fn new(embedder: &'a Embedder, config: &'a WorkerConfig, tx: Sender<Msg>) -> Self {
        SaliencyWorker {
            explainer: Explainer::new(embedder, config.params),
            config,
            tx,
            loaded: HashMap::new(),
            loaded_order: VecDeque::new(),
            computed: HashMap::new(),
            computed_order: VecDeque::new(),
        }
    }

    fn run(mut self, wish: &Wish<Explains>) {
        loop {
            let job = {
                let mut s = wish.state.lock().expect("explain lock");
                loop {
                    if s.stop {
                        return;
                    }
                    if let Some(r) = s.value.exports.pop_front() {
                        break Job::Export(r);
                    }
                    if s.value.wanted_generation != s.value.taken {
                        s.value.taken = s.value.wanted_generation;
                        if let Some(r) = s.value.wanted.clone() {
                            break Job::Explain(r, s.value.wanted_generation);
                        }
                    }
                    s = wish.changed.wait(s).expect("explain lock");
                }
            };
            match job {
                Job::Explain(r, generation) => {
                    let current = || {
                        wish.state
                            .lock()
                            .map(|s| s.value.wanted_generation == generation)
                            .unwrap_or(false)
                    };
                    let run = std::panic::AssertUnwindSafe(|| self.explain(&r, &current));
                    if let Err(p) = std::panic::catch_unwind(run) {
                        let reason = crate::panic_message(&*p);
                        log::write(&format!("saliency worker panicked: {reason}"));
                        let _ = self.tx.send(Msg::Map {
                            key: r.key,
                            result: Err(format!("internal error: {reason}")),
                        });
                    }
                }
                Job::Export(r) => {
                    let run = std::panic::AssertUnwindSafe(|| self.export(&r));
                    let result = match std::panic::catch_unwind(run) {
                        Ok(r) => r.map_err(|e| format!("{e:#}")),
                        Err(p) => Err(format!("internal error: {}", crate::panic_message(&*p))),
                    };
                    if let Err(e) = &result {
                        log::write(&format!("export failed: {e}"));
                    }
                    let _ = self.tx.send(Msg::Exported(result));
                }
            }
        }
    }

    fn load(&mut self, path: &Path) -> Result<Arc<Loaded>> {
        if let Some(l) = self.loaded.get(path) {
            return Ok(l.clone());
        }
        let photo = decode::load_rgb(path)?;
        let input = self.explainer.embedder.preprocess.prepare(&photo);
        let prepared = self.explainer.prepare(input)?;
        let l = Arc::new(Loaded { photo, prepared });
        self.loaded.insert(path.to_path_buf(), l.clone());
        self.loaded_order.push_back(path.to_path_buf());
        while self.loaded_order.len() > 6 {
            if let Some(old) = self.loaded_order.pop_front() {
                self.loaded.remove(&old);
            }
        }
        Ok(l)
    }

    /// The maps of a pair (computed once, then kept).
    fn maps(
        &mut self,
        r: &ExplainRequest,
        current: &dyn Fn() -> bool,
    ) -> Result<Result<LoadedPair, Cancelled>> {
        let a = self.load(&r.query)?;
        if !current() {
            return Ok(Err(Cancelled));
        }
        let b = self.load(&r.neighbour)?;
        if !self.computed.contains_key(&r.key) {
            if !current() {
                return Ok(Err(Cancelled));
            }
            let t = Instant::now();
            let method = r.key.2;
            let map_a = self
                .explainer
                .map(method, &a.prepared, &b.prepared.embedding)?;
            if !current() {
                return Ok(Err(Cancelled));
            }
            let map_b = self
                .explainer
                .map(method, &b.prepared, &a.prepared.embedding)?;
            let pair = PairExplanation {
                method,
                score: crate::engine::cosine(&a.prepared.embedding, &b.prepared.embedding),
                a: map_a,
                b: map_b,
            };
            self.remember(
                r.key,
                Computed {
                    pair,
                    millis: t.elapsed().as_secs_f64() * 1e3,
                    faith: None,
                },
            );
        }
        Ok(Ok((a, b)))
    }

    fn remember(&mut self, key: PairKey, c: Computed) {
        self.computed.insert(key, c);
        self.computed_order.push_back(key);
        while self.computed_order.len() > 16 {
            if let Some(old) = self.computed_order.pop_front() {
                self.computed.remove(&old);
            }
        }
    }

    fn faith(
        &mut self,
        r: &ExplainRequest,
        a: &Loaded,
        b: &Loaded,
        current: &dyn Fn() -> bool,
    ) -> Result<Option<[Faithfulness; 2]>> {
        let c = &self.computed[&r.key];
        if let Some(f) = &c.faith {
            return Ok(Some(f.clone()));
        }
        let embedder = self.explainer.embedder;
        let seed = self.config.params.seed;
        let fa = faithfulness::evaluate(
            embedder,
            &a.prepared.input,
            &b.prepared.embedding,
            &c.pair.a,
            seed,
        )?;
        if !current() {
            return Ok(None);
        }
        let fb = faithfulness::evaluate(
            embedder,
            &b.prepared.input,
            &a.prepared.embedding,
            &c.pair.b,
            seed,
        )?;
        let f = [fa, fb];
        if let Some(c) = self.computed.get_mut(&r.key) {
            c.faith = Some(f.clone());
        }
        Ok(Some(f))
    }

    fn explain(&mut self, r: &ExplainRequest, current: &dyn Fn() -> bool) -> Result<(), Cancelled> {
        let (a, b) = match self.maps(r, current) {
            Ok(Ok(ab)) => ab,
            Ok(Err(Cancelled)) => return Err(Cancelled),
            Err(e) => {
                log::write(&format!(
                    "saliency of {} ↔ {}: {e:#}",
                    r.query.display(),
                    r.neighbour.display()
                ));
                let _ = self.tx.send(Msg::Map {
                    key: r.key,
                    result: Err(format!("{e:#}")),
                });
                return Ok(());
            }
        };
        let c = &self.computed[&r.key];
        let scale = Scale::shared(&[&display_map(&c.pair.a), &display_map(&c.pair.b)]);
        let maps = PairMaps {
            score: c.pair.score,
            query: Arc::new(overlay(&shrink(&a.photo), &c.pair.a, &scale)),
            neighbour: Arc::new(overlay(&shrink(&b.photo), &c.pair.b, &scale)),
            millis: c.millis,
            faith: c.faith.as_ref().map(faith_pair),
            faith_error: None,
        };
        let have_faith = maps.faith.is_some();
        let _ = self.tx.send(Msg::Map {
            key: r.key,
            result: Ok(maps),
        });
        if have_faith || !current() {
            return Ok(());
        }
        match self.faith(r, &a, &b, current) {
            Ok(Some(f)) => {
                let _ = self.tx.send(Msg::Faith {
                    key: r.key,
                    faith: faith_pair(&f),
                });
            }
            Ok(None) => return Err(Cancelled),
            Err(e) => {
                log::write(&format!("faithfulness: {e:#}"));
                let _ = self.tx.send(Msg::FaithFailed {
                    key: r.key,
                    reason: format!("{e:#}"),
                });
            }
        }
        Ok(())
    }

    fn export(&mut self, r: &ExplainRequest) -> Result<PathBuf> {
        let always = || true;
        let (a, b) = match self.maps(r, &always)? {
            Ok(ab) => ab,
            Err(Cancelled) => unreachable!("exports are never cancelled"),
        };
        let faith = self.faith(r, &a, &b, &always)?;
        let c = &self.computed[&r.key];
        let (an, bn) = (name_of(&r.query), name_of(&r.neighbour));
        let fig = figure::pair(
            &Panel {
                name: &an,
                photo: &a.photo,
                map: &c.pair.a,
                faithfulness: faith.as_ref().map(|f| &f[0].scores),
            },
            &Panel {
                name: &bn,
                photo: &b.photo,
                map: &c.pair.b,
                faithfulness: faith.as_ref().map(|f| &f[1].scores),
            },
            c.pair.score,
            r.key.2,
        );
        write_new_png(&fig, &self.config.export_dir, &export_stem(r))
    }
}

fn name_of(p: &Path) -> String {
    sanitize::sanitize(
        &p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

fn faith_pair(f: &[Faithfulness; 2]) -> [Faith; 2] {
    f.clone().map(|f| Faith {
        deletion: f.scores.deletion_auc,
        insertion: f.scores.insertion_auc,
        random_deletion: f.scores.random_deletion_auc,
        random_insertion: f.scores.random_insertion_auc,
    })
}

/// `simtui-QUERY-vs-NEIGHBOUR-METHOD`, from sanitised file stems.
pub fn export_stem(r: &ExplainRequest) -> String {
    format!(
        "simtui-{}-vs-{}-{}",
        sanitize::file_stem(&r.query),
        sanitize::file_stem(&r.neighbour),
        r.key.2.name()
    )
}

/// Writes `img` as `DIR/STEM.png`, or `STEM-2.png`, `STEM-3.png`… : never over an existing
/// file (the name is claimed with create-new, so two exports cannot race for it). The PNG is
/// encoded in memory first and written in one call, so a process that ends meanwhile (the
/// terminal hung up) leaves no half-written file behind.
pub fn write_new_png(img: &RgbImage, dir: &Path, stem: &str) -> Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create export folder {}", dir.display()))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .with_context(|| format!("cannot encode {stem}.png"))?;
    for n in 1.. {
        let name = if n == 1 {
            format!("{stem}.png")
        } else {
            format!("{stem}-{n}.png")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                if let Err(e) = file.write_all(&png) {
                    let _ = std::fs::remove_file(&path);
                    return Err(
                        anyhow::Error::from(e).context(format!("cannot write {}", path.display()))
                    );
                }
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(
                    anyhow::Error::from(e).context(format!("cannot write {}", path.display()))
                )
            }
        }
    }
    unreachable!("the loop returns")
}

/// Opens `path` in the system's viewer (xdg-open, open, start), reporting failure.
fn open(path: PathBuf, tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let mut cmd = if cfg!(target_os = "macos") {
            std::process::Command::new("open")
        } else if cfg!(windows) {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]);
            c
        } else {
            std::process::Command::new("xdg-open")
        };
        let program = format!("{:?}", cmd.get_program());
        let r = cmd
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let msg = match r {
            Ok(s) if s.success() => Ok(path),
            Ok(s) => Err(format!("{program} exited with {s}")),
            Err(e) => Err(format!("cannot run {program}: {e}")),
        };
        let _ = tx.send(Msg::Opened(msg));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Method;

    #[test]
    fn exports_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("simtui-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let img = RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]));
        let r = ExplainRequest {
            key: (0, 1, Method::Gradient),
            query: "x/a b.jpg".into(),
            neighbour: "y/c\x1b[2J.png".into(),
        };
        let stem = export_stem(&r);
        assert_eq!(stem, "simtui-a_b-vs-c__2J-gradient");
        let p1 = write_new_png(&img, &dir, &stem).unwrap();
        let p2 = write_new_png(&img, &dir, &stem).unwrap();
        assert_eq!(p1.file_name().unwrap(), "simtui-a_b-vs-c__2J-gradient.png");
        assert_eq!(
            p2.file_name().unwrap(),
            "simtui-a_b-vs-c__2J-gradient-2.png"
        );
        assert_eq!(image::open(&p2).unwrap().to_rgb8(), img);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
