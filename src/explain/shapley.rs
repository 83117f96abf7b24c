//! Shapley values of the 7×7 cells for the cosine itself.
//!
//! The exact decomposition splits the score's numerator ⟨f − μ, n̂⟩ over the cells and holds the
//! norm ‖f − μ‖ fixed. But a cosine is a ratio: a region that resembles the other photo less
//! than the photo as a whole does still adds to the numerator, yet it adds more to the norm, so
//! it pulls the score down. The decomposition paints it as a (weak) reason for the likeness.
//!
//! Here the cells are the players of a game whose value is the cosine of their pooled feature:
//! v(S) = cos(Σ_{i∈S} (a_i − μ), n̂), v(∅) = 0, so v(all cells) is the score. A cell's Shapley
//! value is its marginal effect on v averaged over the orders in which the cells can join;
//! in every order the marginals add up to v(all) − v(∅), so the values sum exactly to the
//! score, whatever the number of orders sampled. Removing a cell from the pool is what region
//! search does with the same features, so the game is one the product already plays.
//!
//! Cost: one 49×49 Gram matrix of the centred cells (3 M multiply-adds), then O(49²) per order:
//! [`ORDERS`] = 8 192 orders (antithetic pairs: each sampled order and its reverse) take
//! 3.5–4.6 ms on two cores (`simtui bench explain`). On five fixture pairs the values lie within
//! 2–3 % of the largest value from 65 536 orders.

use rayon::prelude::*;

use super::noise::sample_seed;

/// Orders sampled (half of them the reverses of the other half).
pub const ORDERS: usize = 8192;

/// The Shapley value of each of the `cells` (k rows of `dim` values, the raw feature map) for
/// v(S) = cos(Σ_S (a_i − μ), n̂), with `n_hat` the other photo's unit vector in the space and
/// `mean` its μ (none: the plain cosine). Seeded: the same inputs give the same values.
pub fn cell_shapley(
    cells: &[f32],
    dim: usize,
    mean: Option<&[f32]>,
    n_hat: &[f32],
    orders: usize,
    seed: u64,
) -> Vec<f32> {
    assert_eq!(
        n_hat.len(),
        dim,
        "the other photo's vector has the cells' length"
    );
    assert!(cells.len().is_multiple_of(dim), "whole cells");
    let k = cells.len() / dim;
    let centred: Vec<Vec<f64>> = cells
        .chunks_exact(dim)
        .map(|a| match mean {
            Some(mu) => a.iter().zip(mu).map(|(x, m)| (x - m) as f64).collect(),
            None => a.iter().map(|&x| x as f64).collect(),
        })
        .collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let n: Vec<f64> = n_hat.iter().map(|&v| v as f64).collect();
    let along: Vec<f64> = centred.iter().map(|u| dot(u, &n)).collect();
    let mut gram = vec![0f64; k * k];
    for i in 0..k {
        for j in i..k {
            let g = dot(&centred[i], &centred[j]);
            gram[i * k + j] = g;
            gram[j * k + i] = g;
        }
    }
    // Chunks of orders with their own generators, summed in a fixed order: the same values
    // whatever the thread count.
    let chunks = orders.div_ceil(CHUNK);
    let parts: Vec<Vec<f64>> = (0..chunks)
        .into_par_iter()
        .map(|ch| {
            let count = CHUNK.min(orders - ch * CHUNK);
            marginals(&gram, &along, k, count, sample_seed(seed, ch) | 1)
        })
        .collect();
    let mut phi = vec![0f64; k];
    for part in &parts {
        phi.iter_mut().zip(part).for_each(|(p, v)| *p += v);
    }
    phi.iter().map(|v| (v / orders as f64) as f32).collect()
}

/// Orders per generator (even: each sampled order is followed by its reverse).
const CHUNK: usize = 512;

/// The sums of each cell's marginals over `orders` orders drawn from `seed`.
fn marginals(gram: &[f64], along: &[f64], k: usize, orders: usize, seed: u64) -> Vec<f64> {
    let mut phi = vec![0f64; k];
    let mut order: Vec<usize> = (0..k).collect();
    let mut rng = XorShift(seed);
    let mut with_s = vec![0f64; k];
    for o in 0..orders {
        if o % 2 == 0 {
            // Fisher–Yates.
            for i in (1..k).rev() {
                order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
            }
        } else {
            order.reverse();
        }
        // Running ⟨S, n̂⟩, ‖S‖² and ⟨S, u_i⟩ for every cell i.
        let (mut num, mut sq, mut prev) = (0f64, 0f64, 0f64);
        with_s.iter_mut().for_each(|v| *v = 0.0);
        for &c in &order {
            sq += 2.0 * with_s[c] + gram[c * k + c];
            num += along[c];
            let v = if sq > 0.0 { num / sq.sqrt() } else { 0.0 };
            phi[c] += v - prev;
            prev = v;
            with_s
                .iter_mut()
                .zip(&gram[c * k..(c + 1) * k])
                .for_each(|(s, g)| *s += g);
        }
    }
    phi
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f64], b: &[f64]) -> f64 {
        let d: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
        d / (na * nb)
    }

    #[test]
    fn the_values_sum_to_the_cosine_of_the_pooled_feature() {
        // Four cells of three values, centred on μ; the other photo points along (1, 1, 0).
        let cells = [
            3.0, 1.0, 0.5, //
            0.2, 2.0, 1.0, //
            1.0, 1.0, 1.0, //
            0.0, 0.1, 4.0,
        ];
        let mu = [0.5, 0.5, 0.5];
        let n = [0.5f32.sqrt(), 0.5f32.sqrt(), 0.0];
        let phi = cell_shapley(&cells, 3, Some(&mu), &n, 64, 1);
        let pooled: Vec<f64> = (0..3)
            .map(|d| (0..4).map(|i| cells[i * 3 + d] as f64 - mu[d] as f64).sum())
            .collect();
        let want = cos(&pooled, &[1.0, 1.0, 0.0]);
        let got: f64 = phi.iter().map(|&v| v as f64).sum();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // The cell pointing away from the other photo (all along the third axis) argues
        // against the pair; the ones along it make it.
        assert!(phi[3] < 0.0 && phi[0] > 0.0 && phi[1] > 0.0, "{phi:?}");
    }

    #[test]
    fn a_cell_that_only_adds_norm_pulls_the_score_down_unlike_the_split_of_the_numerator() {
        // Two cells exactly along n̂ and one mostly across it with a small part along it: the
        // numerator's split gives the third a positive share, but the score is higher without
        // it (cos 1 → 0.41), and its Shapley value says so.
        let cells = [1.0, 0.0, 1.0, 0.0, 0.2, 2.0];
        let n = [1.0, 0.0];
        let phi = cell_shapley(&cells, 2, None, &n, 2, 0);
        assert!(phi[2] < 0.0 && phi[0] > 0.0 && phi[1] > 0.0, "{phi:?}");
        // With every order of three cells sampled often, the values are the exact ones:
        // for cells 0 and 1 identical and 2 = (0.2, 2), by enumeration of the 6 orders.
        let v = |s: &[usize]| {
            let mut p = [0f64; 2];
            for &i in s {
                p[0] += cells[i * 2] as f64;
                p[1] += cells[i * 2 + 1] as f64;
            }
            if p == [0.0, 0.0] {
                0.0
            } else {
                cos(&p, &[1.0, 0.0])
            }
        };
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let mut exact = [0f64; 3];
        for p in perms {
            for (pos, &c) in p.iter().enumerate() {
                exact[c] += (v(&p[..=pos]) - v(&p[..pos])) / 6.0;
            }
        }
        let phi = cell_shapley(&cells, 2, None, &n, 20_000, 3);
        for (got, want) in phi.iter().zip(exact) {
            assert!((*got as f64 - want).abs() < 0.01, "{phi:?} vs {exact:?}");
        }
        assert_eq!(phi, cell_shapley(&cells, 2, None, &n, 20_000, 3), "seeded");
    }
}
