//! Cell-to-cell correspondence on real photos: the matrix is an exact split of the centred
//! score, its rows are the query's decomposition map, and on a composite holding two squares
//! cut from a photo the strongest pairs lead each square back to where it was cut.

mod common;

use candle_core::Tensor;
use image::RgbImage;
use simtui::decode::load_rgb;
use simtui::explain::correspondence::{cell_distance, Correspondence};
use simtui::explain::{Explainer, Params};
use simtui::model::preprocess::{batch, resize_square};
use simtui::space::Similarity;

/// (feature map, pooled feature) of one image, one forward pass.
fn features(img: &RgbImage) -> (Tensor, Vec<f32>) {
    let e = common::embedder();
    let x = batch(&[e.preprocess.prepare(img)]).unwrap();
    let f = e.model.forward(&x).unwrap();
    (
        f.feature_map,
        f.embedding.flatten_all().unwrap().to_vec1().unwrap(),
    )
}

fn rgb224(name: &str) -> RgbImage {
    resize_square(&load_rgb(&common::photo(name)).unwrap(), 224)
}

#[test]
fn the_matrix_sums_to_the_centred_score_and_its_rows_to_the_decomposition() {
    let e = common::embedder();
    let space = e.space(Similarity::Centred);
    let explainer = Explainer::in_space(e, Params::default(), space.clone());
    for (a, b) in [
        ("bird_kingfisher_crop.jpg", "bird_kingfisher.jpg"),
        ("pet_chelsea_cat.jpg", "farm_sheep.jpg"),
    ] {
        let (ia, ib) = (rgb224(a), rgb224(b));
        let ((fa, ea), (fb, eb)) = (features(&ia), features(&ib));
        let c = Correspondence::between(&space, &fa, &fb).unwrap();
        let score = space.score(&ea, &eb);
        let sum: f64 = c.matrix.iter().map(|&v| v as f64).sum();
        assert_eq!(c.matrix.len(), 49 * 49);
        assert!(
            (sum as f32 - score).abs() < 1e-5,
            "{a}/{b}: {sum} vs {score}"
        );
        assert!((c.score - score).abs() < 1e-5);

        let pa = explainer.prepare(e.preprocess.prepare(&ia)).unwrap();
        let pb = explainer.prepare(e.preprocess.prepare(&ib)).unwrap();
        let map_a = explainer
            .decomposition_from_features(&fa, &pa, &pb.embedding)
            .unwrap();
        let map_b = explainer
            .decomposition_from_features(&fb, &pb, &pa.embedding)
            .unwrap();
        for (got, want) in [
            (c.row_sums(), &map_a.values),
            (c.column_sums(), &map_b.values),
        ] {
            for (g, w) in got.iter().zip(want.iter()) {
                assert!((g - w).abs() < 1e-5, "{a}/{b}: cell {g} vs {w}");
            }
        }
    }
    // The crop and its original share much more than a cat and sheep.
}

/// A cell-aligned square of `cells`×`cells` cells (32 px each at 224).
#[derive(Clone, Copy)]
struct Square {
    x: usize,
    y: usize,
}

const SIDE_CELLS: usize = 3;
const CELL_PX: u32 = 32;

fn cut_and_paste(from: &RgbImage, into: &mut RgbImage, src: Square, dst: Square) {
    let side = SIDE_CELLS as u32 * CELL_PX;
    let patch = image::imageops::crop_imm(
        from,
        src.x as u32 * CELL_PX,
        src.y as u32 * CELL_PX,
        side,
        side,
    )
    .to_image();
    image::imageops::replace(
        into,
        &patch,
        (dst.x as u32 * CELL_PX) as i64,
        (dst.y as u32 * CELL_PX) as i64,
    );
}

/// The exact matrix is ⟨a_i − μ, b_j − μ⟩: cells with a large centred feature (the subject of
/// A) attract pairs from everywhere, so a square's strongest pair sometimes lands on A's
/// subject instead of the square's own source. Measured on these ten composites: 16 of 20
/// squares within one cell (11–16 of 20 over six square layouts tried); the test holds 15.
/// The five strongest pairs of each composite start inside a pasted square in 49 of 50.
const SQUARES_WITHIN_ONE_CELL: usize = 15;

#[test]
fn on_a_composite_the_strongest_pairs_lead_each_square_back_to_its_source() {
    let space = common::embedder().space(Similarity::Centred);
    // Two squares cut from A (top and bottom centre), pasted into the opposite corners of an
    // unrelated photo C.
    let (src1, dst1) = (Square { x: 2, y: 0 }, Square { x: 0, y: 4 });
    let (src2, dst2) = (Square { x: 2, y: 4 }, Square { x: 4, y: 0 });
    let mut within = 0;
    let mut stray = Vec::new();
    for (a, c) in [
        ("wild_giant_panda.jpg", "mountain_aitzgorri.jpg"),
        ("bird_scarlet_macaw.jpg", "building_city_skyline.jpg"),
        ("pet_german_shepherd.jpg", "water_forest_stream.jpg"),
        ("food_citrus_slices.jpg", "farm_horses.jpg"),
        ("pet_ginger_kitten.jpg", "building_eiffel_tower.jpg"),
        ("flower_dahlia.jpg", "pyramid_red_pyramid.jpg"),
        ("person_grace_hopper.jpg", "water_eilean_donan_lake.jpg"),
        ("wild_red_panda.jpg", "farm_cows.jpg"),
        ("building_neuschwanstein.jpg", "food_espresso.jpg"),
        ("windmill_kinderdijk.jpg", "pet_spaniels.jpg"),
    ] {
        let source = rgb224(a);
        let mut composite = rgb224(c);
        cut_and_paste(&source, &mut composite, src1, dst1);
        cut_and_paste(&source, &mut composite, src2, dst2);
        let (fc, _) = features(&composite);
        let (fa, _) = features(&source);
        // Rows: cells of the composite; columns: cells of the source photo.
        let m = Correspondence::between(&space, &fc, &fa).unwrap();
        let inside = |sq: Square, cell: usize| {
            let (x, y) = m.cell_xy(cell);
            (sq.x..sq.x + SIDE_CELLS).contains(&x) && (sq.y..sq.y + SIDE_CELLS).contains(&y)
        };
        // Where a composite cell inside `dst` was cut from in A.
        let source_of = |src: Square, dst: Square, cell: usize| {
            let (x, y) = m.cell_xy(cell);
            (y + src.y - dst.y) * 7 + (x + src.x - dst.x)
        };
        let top = m.top_pairs(49 * 49);
        for (src, dst) in [(src1, dst1), (src2, dst2)] {
            let best = top
                .iter()
                .find(|p| inside(dst, p.a))
                .expect("some positive pair in each square");
            let d = cell_distance(7, best.b, source_of(src, dst, best.a));
            eprintln!(
                "{a} in {c}: square at {:?}, strongest pair {:?} -> {:?}, {d} cell(s) from its source",
                (dst.x, dst.y),
                m.cell_xy(best.a),
                m.cell_xy(best.b),
            );
            within += usize::from(d <= 1);
        }
        // The strongest pairs of all start in a pasted square: the rest of C does not match A.
        for p in top.iter().take(5) {
            if !(inside(dst1, p.a) || inside(dst2, p.a)) {
                stray.push(format!("{a} in {c}: top pair from {:?}", m.cell_xy(p.a)));
            }
        }
    }
    // Measured: 49 of the 50 (one pair of the shepherd's starts on the stream just below a square).
    assert!(stray.len() <= 2, "{stray:#?}");
    assert!(
        within >= SQUARES_WITHIN_ONE_CELL,
        "only {within} of 20 squares' strongest pairs within one cell of their source"
    );
}
