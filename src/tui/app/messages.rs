//! What the workers report, folded into the app: the folder listing, embeddings and
//! failures from the indexer, previews, pair maps and their faithfulness, export and viewer
//! results; and the export request that one of them answers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{App, Entry, FileState, Phase, Slot};
use crate::index::{Event, Listed, ListedState};
use crate::search::EmbeddingMatrix;
use crate::tui::action::{Command, ExplainRequest, Msg};
use crate::tui::sanitize;

impl App {
    pub(super) fn export(&mut self) {
        let (Some(q), Some((n, _))) = (self.query(), self.neighbour()) else {
            self.say("nothing to export: select a query with a neighbour");
            return;
        };
        self.exports_pending += 1;
        self.say(format!(
            "exporting {} ↔ {} ({}) to {}…",
            self.files.entries[q].name,
            self.files.entries[n].name,
            self.overlay.method.name(),
            sanitize::path(&self.export_dir)
        ));
        self.commands.push(Command::Export(ExplainRequest {
            signed: self.overlay.signed,
            key: (q, n, self.overlay.method),
            query: self.files.path_of(q),
            neighbour: self.files.path_of(n),
        }));
    }

    pub(super) fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::ModelReady => self.model_ready = true,
            Msg::Index(event) => self.on_index(event),
            Msg::IndexFinished(r) => {
                self.progress.phase = match r {
                    Ok(()) => Phase::Done,
                    Err(e) => Phase::Failed(sanitize::sanitize(&e)),
                };
                self.refresh_neighbours(true);
            }
            Msg::Preview { entry, result } => {
                let slot = match result {
                    Ok(img) => Slot::Ready(img),
                    Err(e) => Slot::Failed(sanitize::sanitize(&e)),
                };
                self.pictures.previews.insert(entry, slot);
            }
            Msg::Map { key, result } => {
                let slot = match result {
                    Ok(mut m) => {
                        if m.signed != self.overlay.signed {
                            swap_drawing(&mut m);
                        }
                        Slot::Ready(m)
                    }
                    Err(e) => Slot::Failed(sanitize::sanitize(&e)),
                };
                self.pictures.maps.insert(key, slot);
            }
            Msg::Faith { key, faith } => {
                if let Some(Slot::Ready(m)) = self.pictures.maps.get_mut(&key) {
                    m.faith = Some(faith);
                }
            }
            Msg::FaithFailed { key, reason } => {
                if let Some(Slot::Ready(m)) = self.pictures.maps.get_mut(&key) {
                    m.faith_error = Some(sanitize::sanitize(&reason));
                }
            }
            Msg::Exported(r) => {
                self.exports_pending = self.exports_pending.saturating_sub(1);
                self.say(match r {
                    Ok(p) => format!("exported {}", sanitize::path(&p)),
                    Err(e) => format!("export failed: {}", sanitize::sanitize(&e)),
                });
                if self.finishing_exports && self.exports_pending == 0 {
                    self.quit = true;
                }
            }
            Msg::Opened(r) => self.say(match r {
                Ok(p) => format!("opened {}", sanitize::path(&p)),
                Err(e) => format!("cannot open: {}", sanitize::sanitize(&e)),
            }),
            Msg::Cells { pair, result } => self.on_cells(pair, result),
            Msg::RegionEmbedded { id, result } => self.on_region_feature(id, result),
            Msg::RegionRefined { id, result } => self.on_region_refined(id, result),
        }
    }

    pub(super) fn rel_of(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.files.root)
            .unwrap_or(path)
            .to_path_buf()
    }

    pub(super) fn on_index(&mut self, event: Event) {
        match event {
            Event::Plan { to_embed, .. } => {
                self.progress.to_embed = to_embed;
                self.progress.done = 0;
                self.progress.started = Some(Instant::now());
                self.progress.phase = if to_embed > 0 {
                    Phase::Embedding
                } else {
                    Phase::Starting
                };
            }
            Event::Progress { done, total } => {
                self.progress.done = done;
                self.progress.to_embed = total;
            }
            Event::Skipped { path, reason } => {
                let rel = self.rel_of(&path);
                let reason = sanitize::sanitize(&reason);
                match self.files.by_rel.get(&rel) {
                    Some(&i) => self.files.entries[i].state = FileState::Failed(reason),
                    None => self.files.scan_errors.push((sanitize::path(&rel), reason)),
                }
            }
            Event::Listed(files) => self.on_listed(files),
            Event::Embedded { rel, embedding } => {
                let Some(&i) = self.files.by_rel.get(&rel) else {
                    return;
                };
                match self.files.entries[i].state {
                    FileState::Embedded(row) => self.files.matrix.set_row(row, &embedding),
                    _ => {
                        let row = self.files.matrix.push(rel, &embedding);
                        self.files.row_entry.push(i);
                        self.files.entries[i].state = FileState::Embedded(row);
                    }
                }
                // Neighbours follow new arrivals (a few times a second at most, see
                // `plan_work`); the selected one stays selected.
                self.neighbours.dirty = true;
            }
        }
    }

    pub(super) fn on_listed(&mut self, files: Vec<Listed>) {
        self.files.entries.clear();
        self.files.by_rel.clear();
        let mut paths = Vec::new();
        let mut embeddings = Vec::new();
        self.files.row_entry.clear();
        for (i, f) in files.into_iter().enumerate() {
            let state = match f.state {
                ListedState::Cached(e) => {
                    paths.push(f.rel.clone());
                    embeddings.push(e);
                    self.files.row_entry.push(i);
                    FileState::Embedded(embeddings.len() - 1)
                }
                ListedState::Failed(r) => FileState::Failed(sanitize::sanitize(&r)),
                ListedState::Pending => FileState::Pending,
            };
            self.files.by_rel.insert(f.rel.clone(), i);
            self.files.entries.push(Entry {
                name: sanitize::path(&f.rel),
                rel: f.rel,
                state,
            });
        }
        let space = self.files.matrix.space().clone();
        self.files.matrix = EmbeddingMatrix::in_space(paths, &embeddings, space);
        self.files.listed = true;
        self.refilter();
        self.history.visited.clear();
        self.history.pos = 0;
        if let Some(&first) = self.files.visible.first() {
            self.files.cursor = 0;
            self.history.visited.push(first);
        }
        self.query_changed(false);
    }
}

/// Swaps the drawing on screen with the other one (positive part ↔ both signs).
pub(super) fn swap_drawing(m: &mut crate::tui::action::PairMaps) {
    std::mem::swap(&mut m.query, &mut m.other[0]);
    std::mem::swap(&mut m.neighbour, &mut m.other[1]);
    m.signed = !m.signed;
}
