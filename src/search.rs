//! Neighbour search over a contiguous matrix of unit-normalised embeddings in a similarity
//! space: top-k by the space's score (one dot product per row, rows split over threads), and
//! near-duplicate groups. Rows are given raw; the space is applied on the way in.

use std::path::PathBuf;

use multiversion::multiversion;
use rayon::prelude::*;
use serde::Serialize;

use crate::model::kernels;
use crate::space::Space;

pub struct EmbeddingMatrix {
    pub dim: usize,
    /// rows × dim, each row of unit length (all-zero rows stay zero).
    data: Vec<f32>,
    pub paths: Vec<PathBuf>,
    /// The space rows and queries are scored in.
    space: Space,
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn dots(rows: &[f32], dim: usize, q: &[f32], out: &mut [f32]) {
    for (row, o) in rows.chunks_exact(dim).zip(out.iter_mut()) {
        // Eight partial sums break the dependency chain so the loop vectorises and pipelines.
        let mut acc = [0f32; 8];
        for (a, b) in row.chunks_exact(8).zip(q.chunks_exact(8)) {
            for i in 0..8 {
                acc[i] += a[i] * b[i];
            }
        }
        let tail: f32 = row
            .chunks_exact(8)
            .remainder()
            .iter()
            .zip(q.chunks_exact(8).remainder())
            .map(|(a, b)| a * b)
            .sum();
        *o = acc.iter().sum::<f32>() + tail;
    }
}

/// Pushes (i, s) into a list of the k best, kept sorted best first.
fn keep_best(best: &mut Vec<(usize, f32)>, k: usize, i: usize, s: f32) {
    if best.len() == k && best.last().is_some_and(|&(_, w)| s <= w) {
        return;
    }
    let pos = best.partition_point(|&(_, w)| w >= s);
    best.insert(pos, (i, s));
    best.truncate(k);
}

/// One near-duplicate group: members with, for each, its best score to another member.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub path: String,
    pub score: f32,
    /// The member's row in the matrix (for its exact path).
    #[serde(skip)]
    pub row: usize,
}

impl EmbeddingMatrix {
    /// Rows scored by the plain cosine.
    pub fn new(paths: Vec<PathBuf>, embeddings: &[Vec<f32>]) -> Self {
        Self::in_space(paths, embeddings, Space::plain())
    }

    /// Rows (raw pooled features) scored in `space`: top-k, duplicate groups and their scores
    /// are all the space's score.
    pub fn in_space(paths: Vec<PathBuf>, embeddings: &[Vec<f32>], space: Space) -> Self {
        let dim = embeddings
            .first()
            .map_or(crate::model::EMBEDDING_DIM, Vec::len);
        let mut data = Vec::with_capacity(embeddings.len() * dim);
        for e in embeddings {
            assert_eq!(e.len(), dim, "embeddings of one length");
            data.extend(space.unit(e));
        }
        Self {
            dim,
            data,
            paths,
            space,
        }
    }

    pub fn space(&self) -> &Space {
        &self.space
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Appends a row (normalised); returns its index.
    pub fn push(&mut self, path: PathBuf, embedding: &[f32]) -> usize {
        assert_eq!(embedding.len(), self.dim, "embeddings of one length");
        self.data.extend(self.space.unit(embedding));
        self.paths.push(path);
        self.paths.len() - 1
    }

    /// Replaces row `i` (a file that was embedded again).
    pub fn set_row(&mut self, i: usize, embedding: &[f32]) {
        assert_eq!(embedding.len(), self.dim, "embeddings of one length");
        self.data[i * self.dim..(i + 1) * self.dim].copy_from_slice(&self.space.unit(embedding));
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Row `i` as stored: already in the matrix's space and unit length — not a raw feature,
    /// so not something to pass to [`Self::top_k`] (use [`Self::top_k_of_row`]).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The `k` rows most similar to row `i` (a photo of the matrix as the query), best first,
    /// skipping `i` itself.
    pub fn top_k_of_row(&self, i: usize, k: usize) -> Vec<(usize, f32)> {
        let q = self.row(i).to_vec();
        self.top_k_unit(&q, k, Some(i))
    }

    /// The `k` rows most similar to `query` (a raw feature, any scale), best first, skipping
    /// `exclude`.
    pub fn top_k(&self, query: &[f32], k: usize, exclude: Option<usize>) -> Vec<(usize, f32)> {
        assert_eq!(query.len(), self.dim);
        self.top_k_unit(&self.space.unit(query), k, exclude)
    }

    /// [`Self::top_k`] of a query already in the space at unit length.
    fn top_k_unit(&self, q: &[f32], k: usize, exclude: Option<usize>) -> Vec<(usize, f32)> {
        const ROWS: usize = 4096;
        let partial: Vec<Vec<(usize, f32)>> = self
            .data
            .par_chunks(ROWS * self.dim)
            .enumerate()
            .map(|(c, rows)| {
                let mut scores = vec![0f32; rows.len() / self.dim];
                dots(rows, self.dim, q, &mut scores);
                let mut best = Vec::with_capacity(k + 1);
                for (j, s) in scores.into_iter().enumerate() {
                    let i = c * ROWS + j;
                    if Some(i) != exclude {
                        keep_best(&mut best, k, i, s);
                    }
                }
                best
            })
            .collect();
        let mut best = Vec::with_capacity(k + 1);
        for (i, s) in partial.into_iter().flatten() {
            keep_best(&mut best, k, i, s);
        }
        best
    }

    /// Groups of near-duplicates: connected components of the graph whose edges join images
    /// with a score ≥ `threshold` in the matrix's space (every member is linked to the group above the threshold).
    /// Largest groups first. All pairs are scored in blocks through one matrix product each.
    pub fn duplicate_groups(&self, threshold: f32) -> Vec<Group> {
        let n = self.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        let mut best = vec![f32::NEG_INFINITY; n];
        const BLOCK: usize = 512;
        let mut sims = vec![0f32; BLOCK * n];
        for start in (0..n).step_by(BLOCK) {
            let m = BLOCK.min(n - start);
            let block = &self.data[start * self.dim..(start + m) * self.dim];
            kernels::matmul(m, n, self.dim, block, &self.data, true, &mut sims[..m * n]);
            for r in 0..m {
                let i = start + r;
                for j in (i + 1)..n {
                    let s = sims[r * n + j];
                    if s >= threshold {
                        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                        parent[a] = b;
                        best[i] = best[i].max(s);
                        best[j] = best[j].max(s);
                    }
                }
            }
        }
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (i, b) in best.iter().enumerate() {
            if *b > f32::NEG_INFINITY {
                let root = find(&mut parent, i);
                groups.entry(root).or_default().push(i);
            }
        }
        let mut out: Vec<Group> = groups
            .into_values()
            .map(|mut members| {
                members.sort_by(|&a, &b| best[b].total_cmp(&best[a]));
                Group {
                    members: members
                        .into_iter()
                        .map(|i| Member {
                            path: self.paths[i].to_string_lossy().into_owned(),
                            score: best[i],
                            row: i,
                        })
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.members
                .len()
                .cmp(&a.members.len())
                .then(b.members[0].score.total_cmp(&a.members[0].score))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[[f32; 3]]) -> EmbeddingMatrix {
        let paths = (0..rows.len())
            .map(|i| PathBuf::from(format!("{i}.jpg")))
            .collect();
        EmbeddingMatrix::new(paths, &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
    }

    #[test]
    fn top_k_ranks_by_cosine_and_skips_the_query() {
        let mat = m(&[
            [1.0, 0.0, 0.0],
            [0.9, 0.1, 0.0],
            [0.0, 1.0, 0.0],
            [2.0, 0.0, 0.1],
        ]);
        let r = mat.top_k(&[1.0, 0.0, 0.0], 2, Some(0));
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 1]);
        assert!(r[0].1 > r[1].1 && r[0].1 <= 1.0);
    }

    #[test]
    fn a_row_as_query_scores_like_its_raw_feature_in_a_centred_space() {
        // The stored rows are centred already: ranking by a row must not centre it again.
        let rows = vec![
            vec![5.0, 0.0, 1.0],
            vec![5.0, 1.0, 0.0],
            vec![5.2, 2.0, 0.1],
        ];
        let space = Space::centred_on(vec![5.0, 0.5, 0.5], "test");
        let paths = vec!["a".into(), "b".into(), "c".into()];
        let mat = EmbeddingMatrix::in_space(paths, &rows, space.clone());
        let by_row = mat.top_k_of_row(2, 2);
        let by_raw = mat.top_k(&rows[2], 2, Some(2));
        assert_eq!(by_row.len(), 2);
        for ((i, s), (j, t)) in by_row.iter().zip(&by_raw) {
            assert_eq!(i, j);
            assert!((s - t).abs() < 1e-6);
            assert!((s - space.score(&rows[2], &rows[*i])).abs() < 1e-6);
        }
    }

    #[test]
    fn a_centred_matrix_ranks_and_scores_in_its_space() {
        // Plain cosine prefers row 0 (shares the large common component); once the common
        // component μ is removed, row 1 points the query's way and row 0 against it.
        let rows = vec![vec![5.0, 0.0, 1.0], vec![5.0, 1.0, 0.0]];
        let space = Space::centred_on(vec![5.0, 0.5, 0.5], "test");
        let query = [5.0f32, 2.0, 0.0];
        let plain = EmbeddingMatrix::new(vec!["a".into(), "b".into()], &rows);
        let centred = EmbeddingMatrix::in_space(vec!["a".into(), "b".into()], &rows, space.clone());
        assert!(
            plain.top_k(&query, 2, None)[1].1 > 0.9,
            "plain: everything alike"
        );
        let best = centred.top_k(&query, 2, None);
        assert_eq!(best[0].0, 1);
        assert!((best[0].1 - space.score(&query, &rows[1])).abs() < 1e-6);
        assert!(
            best[1].1 < 0.0,
            "row 0 argues against the query: {}",
            best[1].1
        );
    }

    #[test]
    fn duplicate_groups_are_connected_components() {
        // 0-1 similar, 1-2 similar (0-2 less), 3 alone.
        let mat = m(&[
            [1.0, 0.0, 0.0],
            [0.95, 0.3, 0.0],
            [0.8, 0.6, 0.0],
            [0.0, 0.0, 1.0],
        ]);
        let g = mat.duplicate_groups(0.93);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].members.len(), 3);
        assert!(mat.duplicate_groups(0.999).is_empty());
    }
}
