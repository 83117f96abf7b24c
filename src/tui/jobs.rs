//! [`Latest`]: the one way the TUI hands work to its background threads. The UI thread
//! replaces the wish (a preview list, the pair to explain, the photos to encode) and workers
//! take jobs out of the newest one; work for a wish that has been replaced is dropped or
//! cancelled, never queued behind it.

use std::sync::{Condvar, Mutex, MutexGuard};

/// A wish the UI thread replaces and worker threads take jobs from, with a generation that
/// counts replacements (a job taken at generation `g` is still wanted while
/// [`Latest::is_current`]`(g)`) and a stop flag that ends the workers.
pub struct Latest<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

struct State<T> {
    value: T,
    generation: u64,
    stop: bool,
}

impl<T> Latest<T> {
    pub fn new(value: T) -> Self {
        Latest {
            state: Mutex::new(State {
                value,
                generation: 0,
                stop: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// A worker that panicked while holding the lock left a value that is still usable (the
    /// workers catch their panics and report them), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the wish through `f`: a new generation (work on older ones is no longer
    /// current), and the workers wake.
    pub fn set<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut s = self.lock();
        let r = f(&mut s.value);
        s.generation += 1;
        self.changed.notify_all();
        r
    }

    /// Changes the wish through `f` without replacing it (work that must not cancel what is
    /// running, such as an export beside the pair on screen); the workers wake.
    pub fn amend<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut s = self.lock();
        let r = f(&mut s.value);
        self.changed.notify_all();
        r
    }

    /// How many times the wish has been replaced.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Whether no newer wish has replaced generation `generation` (and no stop came).
    pub fn is_current(&self, generation: u64) -> bool {
        let s = self.lock();
        !s.stop && s.generation == generation
    }

    /// Ends the workers: [`Latest::take`] returns `None` from now on.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }

    /// Waits until `pick` takes a job out of the wish (it is given the wish and its
    /// generation, and is asked again after every change), or until [`Latest::stop`].
    pub fn take<J>(&self, mut pick: impl FnMut(&mut T, u64) -> Option<J>) -> Option<J> {
        let mut s = self.lock();
        loop {
            if s.stop {
                return None;
            }
            let generation = s.generation;
            if let Some(job) = pick(&mut s.value, generation) {
                return Some(job);
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_worker_takes_from_the_newest_wish_and_older_jobs_stop_being_current() {
        let wish = Arc::new(Latest::new(Vec::<u32>::new()));
        let (tx, rx) = mpsc::channel();
        let worker = {
            let wish = wish.clone();
            std::thread::spawn(move || {
                while let Some((job, generation)) =
                    wish.take(|v, g| (!v.is_empty()).then(|| (v.remove(0), g)))
                {
                    tx.send((job, generation)).unwrap();
                }
            })
        };
        // Nothing wished: the worker waits.
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        wish.set(|v| *v = vec![1, 2]);
        wish.set(|v| *v = vec![7]);
        // Whatever was taken before the replacement, 7 comes, and only it is current.
        let mut got = Vec::new();
        while got.last().map(|(j, _)| *j) != Some(7) {
            got.push(rx.recv_timeout(Duration::from_secs(5)).expect("a job"));
        }
        assert!(got.iter().all(|(j, _)| [1, 2, 7].contains(j)));
        let (_, g7) = *got.last().unwrap();
        assert_eq!(g7, 2);
        assert!(wish.is_current(g7));
        assert!(!wish.is_current(1));
        // An amendment adds work without replacing the wish.
        wish.amend(|v| v.push(9));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), (9, 2));
        assert_eq!(wish.generation(), 2);
        // Stop ends the worker and nothing is current any more.
        wish.stop();
        worker.join().unwrap();
        assert!(!wish.is_current(2));
        assert!(wish.take(|_, _| Some(())).is_none());
    }
}
