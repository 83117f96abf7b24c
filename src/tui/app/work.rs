//! What the app asks of the workers after each action: the previews it wants (query,
//! neighbour, and a few ahead) and the pair to explain, sent only when they change.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::{App, FileState, Slot};
use crate::tui::action::{CellsRequest, Command, ExplainRequest, PairMaps};

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
        let explain = match (self.overlay.show, self.pair_key()) {
            (true, Some(key)) if !finished(self.pictures.maps.get(&key)) => Some(ExplainRequest {
                signed: false,
                key,
                query: self.files.path_of(key.0),
                neighbour: self.files.path_of(key.1),
            }),
            _ => None,
        };
        if explain != self.sent.explain {
            // A pair no longer wanted that had nothing yet: the worker drops it, so forget it.
            if let Some(old) = &self.sent.explain {
                if matches!(self.pictures.maps.get(&old.key), Some(Slot::Loading)) {
                    self.pictures.maps.remove(&old.key);
                }
            }
            if let Some(r) = &explain {
                if !self.pictures.maps.contains_key(&r.key) {
                    self.pictures.maps.insert(r.key, Slot::Loading);
                }
            }
            self.commands.push(Command::Explain(explain.clone()));
            self.sent.explain = explain;
        }
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
        if cells != self.sent.cells {
            if let Some(old) = &self.sent.cells {
                if matches!(self.pictures.cells.get(&old.pair), Some(Slot::Loading)) {
                    self.pictures.cells.remove(&old.pair);
                }
            }
            if let Some(r) = &cells {
                if !self.pictures.cells.contains_key(&r.pair) {
                    self.pictures.cells.insert(r.pair, Slot::Loading);
                }
            }
            self.commands.push(Command::Cells(cells.clone()));
            self.sent.cells = cells;
        }
    }
}
