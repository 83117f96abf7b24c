//! The one pair pipeline that `simtui explain`, `simtui report` and the TUI's saliency worker
//! all call: load both photos → maps (cancellable between steps) → optional faithfulness →
//! pictures (the report figure, or the overlays the screen shows). Callers decode nothing and
//! scale no map themselves, so a PNG shows exactly what the screen showed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use image::RgbImage;

use super::faithfulness::{self, Scores};
use super::{Explainer, Method, PairExplanation, Prepared};
use crate::decode;
use crate::render::figure::{self, Look, Panel};
use crate::render::{fit, overlay, resize_rgb, Scale};

/// One photo of a pair: full resolution, EXIF-oriented (for figures), and its network input
/// with its embedding (for maps).
pub struct Photo {
    pub path: PathBuf,
    pub image: RgbImage,
    pub prepared: Prepared,
}

/// A pair's maps and how long they took.
pub struct Maps {
    pub explanation: PairExplanation,
    pub millis: f64,
}

/// `None` from a step means a newer wish replaced this one and the step stopped early.
pub type Wanted<'w> = &'w dyn Fn() -> bool;

/// Always wanted: for the command line and for exports, which nobody cancels.
pub fn always() -> bool {
    true
}

/// The pair service over one explainer (model and method parameters).
pub struct PairService<'a> {
    pub explainer: Explainer<'a>,
}

impl<'a> PairService<'a> {
    pub fn new(explainer: Explainer<'a>) -> Self {
        Self { explainer }
    }

    /// Decodes `path` at full resolution (upright) and embeds its network input.
    pub fn load(&self, path: &Path) -> Result<Photo> {
        let image = decode::load_rgb(path)?;
        let input = self.explainer.embedder.preprocess.prepare(&image);
        let prepared = self.explainer.prepare(input)?;
        Ok(Photo {
            path: path.to_path_buf(),
            image,
            prepared,
        })
    }

    /// Both maps of the pair: over `a` with `b` fixed, then over `b` with `a` fixed; `None`
    /// when `wanted` turned false (checked before each batch of network passes, so a slow
    /// method stops within one batch).
    pub fn maps(
        &self,
        method: Method,
        a: &Photo,
        b: &Photo,
        wanted: Wanted,
    ) -> Result<Option<Maps>> {
        if !wanted() {
            return Ok(None);
        }
        let t = Instant::now();
        let ex = &self.explainer;
        let Some(map_a) = ex.map_while(method, &a.prepared, &b.prepared.embedding, wanted)? else {
            return Ok(None);
        };
        let Some(map_b) = ex.map_while(method, &b.prepared, &a.prepared.embedding, wanted)? else {
            return Ok(None);
        };
        Ok(Some(Maps {
            explanation: PairExplanation {
                method,
                score: self
                    .explainer
                    .score(&a.prepared.embedding, &b.prepared.embedding),
                a: map_a,
                b: map_b,
            },
            millis: t.elapsed().as_secs_f64() * 1e3,
        }))
    }

    /// Deletion/insertion figures of both maps against a random order (seeded by the
    /// explainer's parameters); `None` when `wanted` turned false between the two.
    pub fn faithfulness(
        &self,
        a: &Photo,
        b: &Photo,
        pair: &PairExplanation,
        wanted: Wanted,
    ) -> Result<Option<[Scores; 2]>> {
        let embedder = self.explainer.embedder;
        let seed = self.explainer.params.seed;
        if !wanted() {
            return Ok(None);
        }
        let space = &self.explainer.space;
        let fa = faithfulness::evaluate_in(
            embedder,
            space,
            &a.prepared.input,
            &b.prepared.embedding,
            &pair.a,
            seed,
        )?;
        if !wanted() {
            return Ok(None);
        }
        let fb = faithfulness::evaluate_in(
            embedder,
            space,
            &b.prepared.input,
            &a.prepared.embedding,
            &pair.b,
            seed,
        )?;
        Ok(Some([fa.scores, fb.scores]))
    }
}

/// The report figure of a pair: both photos with their overlays on one shared scale, names,
/// score, method, colour bar and (when given) the faithfulness figures. `names` are what the
/// caption shows (the caller sanitises them for its medium); `signed` draws both signs.
pub fn figure(
    a: &Photo,
    b: &Photo,
    pair: &PairExplanation,
    scores: Option<&[Scores; 2]>,
    names: [&str; 2],
    look: Look,
) -> RgbImage {
    figure::pair_in(
        &Panel {
            name: names[0],
            photo: &a.image,
            map: &pair.a,
            faithfulness: scores.map(|s| &s[0]),
        },
        &Panel {
            name: names[1],
            photo: &b.image,
            map: &pair.b,
            faithfulness: scores.map(|s| &s[1]),
        },
        pair.score,
        pair.method,
        look,
    )
}

/// How a space's score is named in figures ("centred similarity", "cosine similarity").
pub fn score_name(space: &crate::space::Space) -> &'static str {
    match space.similarity() {
        crate::space::Similarity::Centred => "centred similarity",
        crate::space::Similarity::Plain => "cosine similarity",
    }
}

/// The overlays the screen shows: each photo shrunk to at most `max_side` pixels a side, its
/// map drawn over it on the pair's shared scale (the same rule as [`figure`]), in both
/// drawings: `[positive part, both signs]`, each `[a, b]`. The photos are shrunk once.
pub fn overlays(a: &Photo, b: &Photo, pair: &PairExplanation, max_side: u32) -> [[RgbImage; 2]; 2] {
    let shrink = |img: &RgbImage| {
        let (w, h) = img.dimensions();
        if w.max(h) <= max_side {
            img.clone()
        } else {
            let (tw, th) = fit(w, h, max_side, max_side);
            resize_rgb(img, tw, th)
        }
    };
    let (sa, sb) = (shrink(&a.image), shrink(&b.image));
    [
        Scale::for_pair(&pair.a, &pair.b),
        Scale::signed_for_pair(&pair.a, &pair.b),
    ]
    .map(|scale| [overlay(&sa, &pair.a, &scale), overlay(&sb, &pair.b, &scale)])
}

/// The file name of `path` (the whole path when it has none), lossy for display.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}
