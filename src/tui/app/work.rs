//! What the app asks of the workers after each action: the previews it wants (query,
//! neighbour, and a few ahead) and the pair to explain, sent only when they change.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::{App, FileState, Slot};
use crate::tui::action::{CellsRequest, Command, ExplainRequest, PairMaps};
use crate::tui::cache::BoundedCache;

impl App {
    /// Tells the workers what is wanted now: previews of the query and the neighbours, and
    /// the current pair's maps when the overlay is on. Only changes are sent.
    pub(super) fn plan_work(&mut self) {
        if self.neighbours.dirty
            && self.neighbours.last_refresh.elapsed() >= Duration::from_millis(200)
        {
            self.refresh_neighbours(true);
        }
        let mut wanted: Vec<usize> = Vec::new();
        if let Some(q) = self.query() {
            wanted.push(q);
        }
        if let Some((n, _)) = self.neighbour() {
            wanted.push(n);
        }
        // Prefetch: the next neighbours and the next files in the list.
        for (n, _) in self
            .neighbours
            .list
            .iter()
            .skip(self.neighbours.cursor + 1)
            .take(3)
        {
            wanted.push(*n);
        }
        for &e in self
            .files
            .visible
            .iter()
            .skip(self.files.cursor + 1)
            .take(2)
        {
            wanted.push(e);
        }
        let mut seen = HashSet::new();
        // Everything wanted that has not arrived (a preview being decoded stays on the list:
        // the new list replaces the old one in the workers).
        let previews: Vec<(usize, PathBuf)> = wanted
            .into_iter()
            .filter(|e| seen.insert(*e) && !self.pictures.previews.contains_key(e))
            .filter(|&e| !matches!(self.files.entries[e].state, FileState::Failed(_)))
            .map(|e| (e, self.files.path_of(e)))
            .collect();
        // Previews on screen are the most recently used: keep them from eviction.
        for e in [self.query(), self.neighbour().map(|n| n.0)]
            .into_iter()
            .flatten()
        {
            self.pictures.previews.touch(&e);
        }
        if previews != self.sent.previews {
            self.commands.push(Command::Previews(previews.clone()));
            self.sent.previews = previews;
        }

        // The pair stays wanted until its maps and their faithfulness are in, so the arrival
        // of the maps does not cancel the faithfulness measurement that follows them.
        let finished = |slot: Option<&Slot<PairMaps>>| match slot {
            Some(Slot::Ready(m)) => m.faith.is_some() || m.faith_error.is_some(),
            Some(Slot::Failed(_)) => true,
            _ => false,
        };
        // Point mode shows the correspondence instead of the maps: none is computed meanwhile.
        let explain = match (self.overlay.show && !self.point.on, self.pair_key()) {
            (true, Some(key)) if !finished(self.pictures.maps.get(&key)) => Some(ExplainRequest {
                signed: false,
                key,
                query: self.files.path_of(key.0),
                neighbour: self.files.path_of(key.1),
            }),
            _ => None,
        };
        resend(
            &mut self.sent.explain,
            explain,
            &mut self.pictures.maps,
            |r| r.key,
            &mut self.commands,
            Command::Explain,
        );
        self.plan_cells();
        self.mark_pictures();
    }

    /// In point mode, the pair's correspondence until it is in (asked for once per pair).
    fn plan_cells(&mut self) {
        let cells = match (self.point.on, self.query(), self.neighbour()) {
            (true, Some(q), Some((n, _)))
                if !matches!(
                    self.pictures.cells.get(&(q, n)),
                    Some(Slot::Ready(_) | Slot::Failed(_))
                ) =>
            {
                Some(CellsRequest {
                    pair: (q, n),
                    query: self.files.path_of(q),
                    neighbour: self.files.path_of(n),
                })
            }
            _ => None,
        };
        resend(
            &mut self.sent.cells,
            cells,
            &mut self.pictures.cells,
            |r| r.pair,
            &mut self.commands,
            Command::Cells,
        );
    }
}

/// Sends `wish` (as `command`) when it differs from the one last `sent`. The pair no longer
/// wanted that had nothing yet is forgotten, since its worker drops it; the new pair is marked
/// loading unless something is already there.
fn resend<R: Clone + PartialEq, K: std::hash::Hash + Eq + Clone, T>(
    sent: &mut Option<R>,
    wish: Option<R>,
    slots: &mut BoundedCache<K, Slot<T>>,
    key: impl Fn(&R) -> K,
    commands: &mut Vec<Command>,
    command: impl FnOnce(Option<R>) -> Command,
) {
    if wish == *sent {
        return;
    }
    if let Some(old) = sent.as_ref().map(&key) {
        if matches!(slots.get(&old), Some(Slot::Loading)) {
            slots.remove(&old);
        }
    }
    if let Some(new) = wish.as_ref().map(&key) {
        if !slots.contains_key(&new) {
            slots.insert(new, Slot::Loading);
        }
    }
    commands.push(command(wish.clone()));
    *sent = wish;
}
