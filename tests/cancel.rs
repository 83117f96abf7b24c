//! A map nobody waits for any more stops at its next batch of network passes instead of
//! running to its end (the TUI replaces the pair on screen with every key).

mod common;

use std::cell::Cell;

use simtui::explain::{Explainer, Method, Params, Prepared};

fn photo(ex: &Explainer, name: &str) -> Prepared {
    let img = simtui::decode::load_rgb(&common::photo(name)).unwrap();
    ex.prepare(ex.embedder.preprocess.prepare(&img)).unwrap()
}

#[test]
fn a_map_stops_once_it_is_no_longer_wanted_and_runs_whole_while_it_is() {
    let e = common::embedder();
    let ex = Explainer::new(e, Params::default());
    let q = photo(&ex, "bird_kingfisher.jpg");
    let n = photo(&ex, "bird_kingfisher_crop.jpg");
    for method in [Method::IntegratedGradients, Method::Smoothgrad] {
        // Wanted for the first batch only: the map gives up at the second.
        let checks = Cell::new(0);
        let wanted = || {
            checks.set(checks.get() + 1);
            checks.get() == 1
        };
        let stopped = ex.map_while(method, &q, &n.embedding, &wanted).unwrap();
        assert!(stopped.is_none(), "{method:?} ran on after it was replaced");
        assert_eq!(
            checks.get(),
            2,
            "{method:?}: one batch, then the check that stopped it"
        );

        // Always wanted: the same map as `map`.
        let whole = ex.map_while(method, &q, &n.embedding, &|| true).unwrap();
        assert_eq!(whole, Some(ex.map(method, &q, &n.embedding).unwrap()));
    }
}
