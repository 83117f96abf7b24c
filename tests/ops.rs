//! The fused NHWC convolution ops against candle's own convolutions, and their input
//! gradients against finite differences.

use candle_core::{Device, Tensor, Var};
use simtui::model::kernels::same_padding;
use simtui::model::ops::{Act, DenseConv, Depthwise, Pointwise};

/// Small deterministic pseudo-random values in [-scale, scale].
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Largest |v| in `a`.
fn max_abs(a: &[f32]) -> f32 {
    a.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// Largest |a[i] − b[i]|.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn nhwc(b: usize, h: usize, w: usize, c: usize, seed: u64, scale: f32) -> Tensor {
    Tensor::from_vec(
        values(b * h * w * c, seed, scale),
        (b, h, w, c),
        &Device::Cpu,
    )
    .unwrap()
}

/// candle's grouped/dense conv2d with explicit TF 'SAME' padding, NHWC in and out.
fn candle_conv_same(
    x_nhwc: &Tensor,
    w_oikk: &Tensor,
    k: usize,
    stride: usize,
    groups: usize,
) -> Tensor {
    let (_, h, w, _) = x_nhwc.dims4().unwrap();
    let (_, pt) = same_padding(h, k, stride);
    let (_, pl) = same_padding(w, k, stride);
    let (oh, _) = same_padding(h, k, stride);
    let (ow, _) = same_padding(w, k, stride);
    let pb = ((oh - 1) * stride + k).saturating_sub(h) - pt;
    let pr = ((ow - 1) * stride + k).saturating_sub(w) - pl;
    let x = x_nhwc.permute((0, 3, 1, 2)).unwrap();
    let x = x
        .pad_with_zeros(2, pt, pb)
        .unwrap()
        .pad_with_zeros(3, pl, pr)
        .unwrap();
    let y = x.conv2d(w_oikk, 0, stride, 1, groups).unwrap();
    y.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn depthwise_forward_equals_candle_grouped_conv() {
    let c = 12;
    for (k, stride, h, w) in [
        (3, 1, 9, 7),
        (3, 2, 10, 9),
        (5, 1, 8, 8),
        (5, 2, 11, 14),
        (5, 2, 56, 56),
    ] {
        let x = nhwc(2, h, w, c, (k * 10 + stride) as u64, 1.0);
        let wv = values(c * k * k, 99, 0.5);
        let op = Depthwise::new(&wv, vec![0.0; c], c, k, stride, Act::None);
        let ours = op.forward(&x).unwrap();
        let wt = Tensor::from_vec(wv, (c, 1, k, k), &Device::Cpu).unwrap();
        let reference = candle_conv_same(&x, &wt, k, stride, c);
        let d = max_abs_diff(&ours, &reference);
        assert!(d <= 1e-5, "k={k} s={stride} {h}x{w}: max diff {d}");
    }
}

#[test]
fn depthwise_bias_and_relu6_are_fused() {
    let (c, k) = (5, 3);
    let x = nhwc(1, 6, 6, c, 3, 8.0);
    let wv = values(c * k * k, 4, 1.0);
    let bias = values(c, 5, 2.0);
    let fused = Depthwise::new(&wv, bias.clone(), c, k, 1, Act::Relu6)
        .forward(&x)
        .unwrap();
    let plain = Depthwise::new(&wv, vec![0.0; c], c, k, 1, Act::None)
        .forward(&x)
        .unwrap();
    let b = Tensor::from_vec(bias, c, &Device::Cpu).unwrap();
    let expected = plain.broadcast_add(&b).unwrap().clamp(0f32, 6f32).unwrap();
    assert!(max_abs_diff(&fused, &expected) <= 1e-5);
    // The input scale makes both bounds bite, so the clamp is really exercised.
    let v = fused.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(v.contains(&0.0) && v.contains(&6.0));
}

#[test]
fn pointwise_forward_equals_matmul() {
    let (cin, cout) = (24, 40);
    let x = nhwc(3, 5, 7, cin, 7, 1.0);
    let wv = values(cout * cin, 8, 0.3);
    let bias = values(cout, 9, 0.1);
    let ours = Pointwise::new(&wv, bias.clone(), cin, cout, Act::None)
        .forward(&x)
        .unwrap();
    let w = Tensor::from_vec(wv, (cout, cin), &Device::Cpu).unwrap();
    let b = Tensor::from_vec(bias, cout, &Device::Cpu).unwrap();
    let expected = x
        .reshape((3 * 5 * 7, cin))
        .unwrap()
        .matmul(&w.t().unwrap())
        .unwrap()
        .broadcast_add(&b)
        .unwrap()
        .reshape((3, 5, 7, cout))
        .unwrap();
    assert!(max_abs_diff(&ours, &expected) <= 1e-5);
}

#[test]
fn dense_conv_equals_candle_conv2d() {
    let (cin, cout, k) = (3, 8, 3);
    for (stride, h, w) in [(2, 16, 16), (2, 15, 12), (1, 7, 9)] {
        let x = nhwc(2, h, w, cin, 11, 1.0);
        let wv = values(cout * cin * k * k, 12, 0.4);
        let ours = DenseConv::new(&wv, vec![0.0; cout], cin, cout, k, stride, Act::None)
            .forward(&x)
            .unwrap();
        let wt = Tensor::from_vec(wv, (cout, cin, k, k), &Device::Cpu).unwrap();
        let reference = candle_conv_same(&x, &wt, k, stride, 1);
        let d = max_abs_diff(&ours, &reference);
        assert!(d <= 1e-5, "s={stride} {h}x{w}: max diff {d}");
    }
}

/// Checks d(sum(r ⊙ f(x)))/dx from candle's autograd against central finite differences at
/// `probes` input positions.
fn check_gradient(f: &dyn Fn(&Tensor) -> Tensor, x: Tensor, probes: usize) {
    let out_shape = f(&x).dims().to_vec();
    let n_out: usize = out_shape.iter().product();
    let r = Tensor::from_vec(values(n_out, 77, 1.0), out_shape, &Device::Cpu).unwrap();
    let loss = |t: &Tensor| -> f64 {
        (f(t) * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap() as f64
    };
    let var = Var::from_tensor(&x).unwrap();
    let l = (f(var.as_tensor()) * &r).unwrap().sum_all().unwrap();
    let grads = l.backward().unwrap();
    let g = grads
        .get(var.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let eps = 1e-3f32;
    let mut checked = 0;
    for idx in (0..xs.len()).step_by(xs.len() / probes) {
        let mut plus = xs.clone();
        plus[idx] += eps;
        let mut minus = xs.clone();
        minus[idx] -= eps;
        let t = |v: Vec<f32>| Tensor::from_vec(v, x.dims(), &Device::Cpu).unwrap();
        let fd = (loss(&t(plus)) - loss(&t(minus))) / (2.0 * eps as f64);
        let tol = 2e-3 * (1.0 + fd.abs());
        assert!(
            (fd - g[idx] as f64).abs() <= tol,
            "input {idx}: autograd {} vs finite difference {fd}",
            g[idx]
        );
        checked += 1;
    }
    assert!(checked >= probes);
}

#[test]
fn depthwise_gradient_matches_finite_differences() {
    let c = 6;
    for (k, stride) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
        let wv = values(c * k * k, 21, 0.5);
        let op = Depthwise::new(&wv, vec![0.0; c], c, k, stride, Act::None);
        check_gradient(&|t| op.forward(t).unwrap(), nhwc(2, 9, 8, c, 22, 1.0), 40);
    }
}

#[test]
fn relu6_gradients_match_finite_differences() {
    // Inputs scaled so that some outputs clip at 0 and 6: the gradient must be cut there.
    let c = 6;
    let wv = values(c * 25, 31, 0.6);
    let bias = values(c, 32, 1.0);
    let dw = Depthwise::new(&wv, bias, c, 5, 2, Act::Relu6);
    check_gradient(&|t| dw.forward(t).unwrap(), nhwc(1, 11, 10, c, 33, 3.0), 40);

    let pw = Pointwise::new(
        &values(c * 10, 34, 0.8),
        values(10, 35, 1.0),
        c,
        10,
        Act::Relu6,
    );
    check_gradient(&|t| pw.forward(t).unwrap(), nhwc(2, 4, 5, c, 36, 3.0), 40);

    let stem = DenseConv::new(
        &values(8 * 27, 37, 0.5),
        values(8, 38, 0.5),
        3,
        8,
        3,
        2,
        Act::Relu6,
    );
    check_gradient(
        &|t| stem.forward(t).unwrap(),
        nhwc(2, 9, 10, 3, 39, 2.0),
        40,
    );
}

#[test]
fn ops_chain_and_residual_backpropagate() {
    // expand → depthwise → project + residual, as in an MBConv block.
    let c = 4;
    let e = Pointwise::new(
        &values(c * 12, 41, 0.5),
        values(12, 42, 0.5),
        c,
        12,
        Act::Relu6,
    );
    let d = Depthwise::new(
        &values(12 * 9, 43, 0.5),
        values(12, 44, 0.5),
        12,
        3,
        1,
        Act::Relu6,
    );
    let p = Pointwise::new(&values(12 * c, 45, 0.5), vec![0.0; c], 12, c, Act::None);
    let block = |t: &Tensor| {
        (p.forward(&d.forward(&e.forward(t).unwrap()).unwrap())
            .unwrap()
            + t)
            .unwrap()
    };
    check_gradient(&block, nhwc(1, 6, 6, c, 46, 1.0), 30);
}

/// The model's hand-written backward (used for every gradient map) against candle's autograd
/// through the same network, on a batch of three images (images run in parallel).
#[test]
fn hand_written_model_backward_equals_candle_autograd() {
    let embedder = simtui::engine::Embedder::new(None, Default::default()).unwrap();
    let model = &embedder.model;
    let s = 64; // small images: same code path, quicker test
    let inputs: Vec<Vec<f32>> = (0..3).map(|i| values(s * s * 3, 40 + i, 1.0)).collect();
    let v: Vec<f32> = values(1280, 7, 0.05);

    let ours = model.target_and_input_grads(&inputs, s, s, &v).unwrap();

    let flat: Vec<f32> = inputs.concat();
    let x = Var::from_tensor(&Tensor::from_vec(flat, (3, s, s, 3), &Device::Cpu).unwrap()).unwrap();
    let f = model.embed(x.as_tensor()).unwrap(); // (3, 1280)
    let vt = Tensor::from_slice(&v, (1280, 1), &Device::Cpu).unwrap();
    let t = f.matmul(&vt).unwrap(); // (3, 1)
    let grads = t.sum_all().unwrap().backward().unwrap();
    let g = grads
        .get(x.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let t = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();

    for (i, (ti, gi)) in ours.iter().enumerate() {
        assert!(
            (ti - t[i]).abs() <= 1e-4 * t[i].abs().max(1e-3),
            "T[{i}] {ti} vs {}",
            t[i]
        );
        let reference = &g[i * s * s * 3..(i + 1) * s * s * 3];
        let scale = max_abs(reference);
        assert!(scale > 0.0, "a gradient reached the input");
        let diff = max_diff(gi, reference);
        assert!(
            diff <= 1e-4 * scale,
            "image {i}: max |diff| {diff} vs max |g| {scale}"
        );
    }
}

/// The tensor-free forward used for embeddings equals the candle ops' forward.
#[test]
fn raw_forward_equals_the_candle_forward() {
    let embedder = simtui::engine::Embedder::new(None, Default::default()).unwrap();
    let s = 96;
    let inputs: Vec<Vec<f32>> = (0..5).map(|i| values(s * s * 3, 90 + i, 1.0)).collect();
    let raw = embedder.model.embed_images_raw(&inputs, s, s).unwrap();
    let x = Tensor::from_vec(inputs.concat(), (5, s, s, 3), &Device::Cpu).unwrap();
    let reference = embedder.model.embed(&x).unwrap().to_vec2::<f32>().unwrap();
    for (a, b) in raw.iter().zip(&reference) {
        let scale = max_abs(b);
        assert!(scale > 0.0);
        let diff = max_diff(a, b);
        assert!(diff <= 1e-5 * scale, "max |diff| {diff} vs max {scale}");
    }
}

/// An incremental re-run after changing a few regions of the image gives the embedding a full
/// pass over the changed image gives: for a small change, a change that touches the border and
/// spreads to every later layer, an empty change and a change of every pixel.
#[test]
fn incremental_rerun_equals_a_full_pass_of_the_changed_image() {
    use simtui::model::kernels::Changed;
    let embedder = simtui::engine::Embedder::new(None, Default::default()).unwrap();
    let model = &embedder.model;
    let s = 96;
    let original = values(s * s * 3, 120, 1.0);
    let other = values(s * s * 3, 121, 1.0);
    let mut pass = model.retain(&original, s, s).unwrap();
    let mut current = original.clone();
    // (rows, columns) rectangles copied from `other`, one change after another.
    let steps: [&[(std::ops::Range<usize>, std::ops::Range<usize>)]; 4] = [
        &[(40..48, 40..48)],
        &[(0..8, 88..96), (17..25, 3..11), (60..90, 30..38)],
        &[],
        &[(0..s, 0..s)],
    ];
    for (i, rects) in steps.iter().enumerate() {
        let mut changed = Changed::none(s, s);
        for (ys, xs) in rects.iter() {
            for y in ys.clone() {
                for x in xs.clone() {
                    let at = (y * s + x) * 3;
                    current[at..at + 3].copy_from_slice(&other[at..at + 3]);
                }
            }
            changed.mark(ys.clone(), xs.clone());
        }
        model.rerun(&mut pass, &current, &changed).unwrap();
        let got = pass.embedding(model);
        let full = model
            .embed_images_raw(std::slice::from_ref(&current), s, s)
            .unwrap();
        let scale = max_abs(&full[0]);
        let diff = max_diff(&got, &full[0]);
        assert!(
            diff <= 1e-5 * scale,
            "step {i}: max |diff| {diff} vs max {scale}"
        );
    }
    // The chain did move: the end is `other`, far from the start.
    let start = model
        .embed_images_raw(std::slice::from_ref(&original), s, s)
        .unwrap();
    let end = pass.embedding(model);
    let moved = max_diff(&start[0], &end);
    assert!(moved > 1e-2, "the changes reached the embedding ({moved})");
}
