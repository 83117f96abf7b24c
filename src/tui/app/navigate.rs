//! Moving through the app: the cursors of both lists, the filter, the history of queries,
//! mouse clicks, the number of neighbours and their recomputation.

use std::time::Instant;

use super::{App, FileState, Focus, MAX_K};
use crate::tui::scroll::list_window;

impl App {
    pub(super) fn page(&self) -> usize {
        let h = match self.focus {
            Focus::Files => self.layout.files.3,
            Focus::Neighbours => self.layout.neighbours.3,
        };
        (h as usize).max(2) - 1
    }

    pub(super) fn move_by(&mut self, delta: isize) {
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                0
            } else {
                (cur as isize)
                    .saturating_add(delta)
                    .clamp(0, len as isize - 1) as usize
            }
        };
        match self.focus {
            Focus::Files => {
                let new = step(self.files.cursor, self.files.visible.len());
                if new != self.files.cursor || self.query() != self.files.visible.get(new).copied()
                {
                    self.files.cursor = new;
                    if let Some(&e) = self.files.visible.get(new) {
                        self.select_from_list(e);
                    }
                }
            }
            Focus::Neighbours => {
                self.neighbours.cursor = step(self.neighbours.cursor, self.neighbours.list.len())
            }
        }
    }

    /// Choosing a file in the list replaces the current history entry (and drops the
    /// forward ones), as typing a new address does in a browser.
    pub(super) fn select_from_list(&mut self, entry: usize) {
        if self.history.visited.is_empty() {
            self.history.visited.push(entry);
            self.history.pos = 0;
        } else {
            self.history.visited.truncate(self.history.pos + 1);
            self.history.visited[self.history.pos] = entry;
        }
        self.query_changed(false);
    }

    pub(super) fn follow(&mut self) {
        let Some((n, _)) = self.neighbour() else {
            self.say("no neighbour to follow");
            return;
        };
        self.history.visited.truncate(self.history.pos + 1);
        self.history.visited.push(n);
        self.history.pos = self.history.visited.len() - 1;
        self.query_changed(true);
    }

    /// After the query changed: new neighbours, and the file list shows the query.
    pub(super) fn query_changed(&mut self, sync_list: bool) {
        // Region results belong to the query they were searched from.
        if self
            .region
            .as_ref()
            .is_some_and(|r| Some(r.query) != self.query())
        {
            self.drop_region();
        }
        self.point.anchor = None;
        self.neighbours.cursor = 0;
        self.refresh_neighbours(false);
        if sync_list {
            if let Some(q) = self.query() {
                if !self.files.visible.contains(&q) {
                    self.files.filter.clear();
                    self.files.filter_editing = false;
                    self.refilter();
                }
                if let Some(pos) = self.files.visible.iter().position(|&e| e == q) {
                    self.files.cursor = pos;
                }
            }
        }
    }

    pub(super) fn set_k(&mut self, k: usize) {
        let k = k.clamp(1, MAX_K);
        if k != self.neighbours.k {
            self.neighbours.k = k;
            self.refresh_neighbours(true);
        }
        self.say(format!("showing {} neighbours", self.neighbours.k));
    }

    /// Recomputes the query's neighbours; `keep` keeps the selected neighbour selected.
    pub(super) fn refresh_neighbours(&mut self, keep: bool) {
        self.neighbours.dirty = false;
        self.neighbours.last_refresh = Instant::now();
        let selected = if keep {
            self.neighbour().map(|n| n.0)
        } else {
            None
        };
        self.neighbours.list.clear();
        if let Some(r) = &self.region {
            self.neighbours.list = r
                .hits
                .iter()
                .take(self.neighbours.k)
                .map(|h| (h.entry, h.score))
                .collect();
        } else if let Some(q) = self.query() {
            if let FileState::Embedded(row) = self.files.entries[q].state {
                self.neighbours.list = self
                    .files
                    .matrix
                    .top_k_of_row(row, self.neighbours.k)
                    .into_iter()
                    .map(|(r, s)| (self.files.row_entry[r], s))
                    .collect();
            }
        }
        self.neighbours.cursor = selected
            .and_then(|s| self.neighbours.list.iter().position(|n| n.0 == s))
            .unwrap_or(self.neighbours.cursor)
            .min(self.neighbours.list.len().saturating_sub(1));
    }

    pub(super) fn refilter(&mut self) {
        let current = self
            .files
            .visible
            .get(self.files.cursor)
            .copied()
            .or(self.query());
        let needle = self.files.filter.to_lowercase();
        self.files.visible = (0..self.files.entries.len())
            .filter(|&i| {
                needle.is_empty() || self.files.entries[i].name.to_lowercase().contains(&needle)
            })
            .collect();
        match current.and_then(|c| self.files.visible.iter().position(|&e| e == c)) {
            Some(pos) => self.files.cursor = pos,
            None => {
                // The query is filtered out: the first match becomes the query, so the
                // highlighted row and the query agree.
                self.files.cursor = 0;
                if let Some(&first) = self.files.visible.first() {
                    if self.files.listed && self.query().is_some() {
                        self.select_from_list(first);
                    }
                }
            }
        }
    }

    pub(super) fn click(&mut self, column: u16, row: u16) {
        // The list index under the click, if it is on a row of a list with `cursor` and `len`.
        let row_at = |(y, x, w, h): (u16, u16, u16, u16), cursor: usize, len: usize| {
            let inside = column >= x && column < x + w && row >= y && row < y + h;
            inside.then(|| {
                let (first, _) = list_window(cursor, len, h as usize);
                first + (row - y) as usize
            })
        };
        if let Some(i) = row_at(
            self.layout.files,
            self.files.cursor,
            self.files.visible.len(),
        ) {
            self.focus = Focus::Files;
            if i < self.files.visible.len() {
                self.files.cursor = i;
                self.select_from_list(self.files.visible[i]);
            }
        } else if let Some(i) = row_at(
            self.layout.neighbours,
            self.neighbours.cursor,
            self.neighbours.list.len(),
        ) {
            self.focus = Focus::Neighbours;
            if i < self.neighbours.list.len() {
                self.neighbours.cursor = i;
            }
        } else if !self.help && !self.files.filter_editing {
            // Under the help popup, or while the filter is typed, a photo click is not a
            // point on it: point mode would take the keys meant for the filter.
            self.photo_click(column, row);
        }
    }
}
