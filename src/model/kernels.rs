//! Raw f32 kernels for the NHWC convolutions of EfficientNet-Lite0.
//!
//! Everything here works on contiguous row-major slices, channels last: an activation of shape
//! (B, H, W, C) is `B*H*W` rows of `C` values. That makes a 1×1 convolution one matrix product
//! over all pixels of the batch, and lets the depthwise loops run over contiguous channel vectors,
//! which the compiler vectorises (AVX-512 or AVX2, picked at run time by `multiversion`).
//! Backward kernels compute the gradient of the *input* only: the weights are constants here.

use multiversion::multiversion;
use rayon::prelude::*;

/// Geometry of a convolution with TensorFlow 'SAME' padding on an NHWC input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Zero rows added above the input; the bottom gets the rest (one more when the total is odd).
    pub pad_top: usize,
    /// Zero columns added left of the input; the right gets the rest.
    pub pad_left: usize,
}

/// TF 'SAME' padding for one spatial dimension: returns (output size, padding before).
/// total = max((ceil(in/s) - 1)·s + k - in, 0); the odd extra pixel goes after (bottom/right).
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(input);
    (out, total / 2)
}

impl ConvGeom {
    pub fn same(batch: usize, in_h: usize, in_w: usize, kernel: usize, stride: usize) -> Self {
        let (out_h, pad_top) = same_padding(in_h, kernel, stride);
        let (out_w, pad_left) = same_padding(in_w, kernel, stride);
        Self {
            batch,
            in_h,
            in_w,
            out_h,
            out_w,
            kernel,
            stride,
            pad_top,
            pad_left,
        }
    }

    /// Input index for output index `o` and kernel tap `t`, if it falls inside the input.
    #[inline(always)]
    fn input_pos(o: usize, t: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
        let p = (o * stride + t).checked_sub(pad)?;
        (p < size).then_some(p)
    }

    /// Output index that reads input `i` through kernel tap `t`, if any.
    #[inline(always)]
    fn output_pos(i: usize, t: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
        let p = (i + pad).checked_sub(t)?;
        if p % stride != 0 {
            return None;
        }
        let o = p / stride;
        (o < size).then_some(o)
    }
}

/// The pixels of one `h`×`w` activation map (batch 1) that differ from an earlier pass over a
/// similar image: what an incremental pass recomputes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    h: usize,
    w: usize,
    mask: Vec<bool>,
    count: usize,
}

impl Changed {
    pub fn none(h: usize, w: usize) -> Self {
        Self {
            h,
            w,
            mask: vec![false; h * w],
            count: 0,
        }
    }

    /// Marks the pixels of the rectangle rows `y`, columns `x` (clipped to the map).
    pub fn mark(&mut self, y: std::ops::Range<usize>, x: std::ops::Range<usize>) {
        for yy in y.start..y.end.min(self.h) {
            for xx in x.start..x.end.min(self.w) {
                let m = &mut self.mask[yy * self.w + xx];
                self.count += usize::from(!*m);
                *m = true;
            }
        }
    }

    /// (height, width) of the map.
    pub fn size(&self) -> (usize, usize) {
        (self.h, self.w)
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn is_all(&self) -> bool {
        self.count == self.h * self.w
    }

    pub fn contains(&self, y: usize, x: usize) -> bool {
        self.mask[y * self.w + x]
    }

    /// Indices (y·w + x) of the marked pixels, row by row.
    pub fn pixels(&self) -> Vec<usize> {
        (0..self.mask.len()).filter(|&i| self.mask[i]).collect()
    }

    /// Maximal runs [x0, x1) of marked pixels in row `y`.
    pub fn runs(&self, y: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let row = &self.mask[y * self.w..(y + 1) * self.w];
        let mut x = 0;
        std::iter::from_fn(move || {
            while x < row.len() && !row[x] {
                x += 1;
            }
            if x == row.len() {
                return None;
            }
            let start = x;
            while x < row.len() && row[x] {
                x += 1;
            }
            Some((start, x))
        })
    }

    /// The output pixels of a convolution with geometry `g` whose window reads a marked input
    /// pixel: what changes downstream of this change.
    pub fn through(&self, g: &ConvGeom) -> Changed {
        assert_eq!((self.h, self.w), (g.in_h, g.in_w));
        // Rows first: an output row is touched at input column x if any input row of its
        // window is marked there; then the same along x.
        let mut rows = vec![false; g.out_h * self.w];
        for oy in 0..g.out_h {
            for t in 0..g.kernel {
                let Some(iy) = ConvGeom::input_pos(oy, t, g.stride, g.pad_top, g.in_h) else {
                    continue;
                };
                let src = &self.mask[iy * self.w..(iy + 1) * self.w];
                for (d, s) in rows[oy * self.w..(oy + 1) * self.w].iter_mut().zip(src) {
                    *d |= *s;
                }
            }
        }
        let mut out = Changed::none(g.out_h, g.out_w);
        for oy in 0..g.out_h {
            let row = &rows[oy * self.w..(oy + 1) * self.w];
            for ox in 0..g.out_w {
                let hit = (0..g.kernel).any(|t| {
                    ConvGeom::input_pos(ox, t, g.stride, g.pad_left, g.in_w)
                        .is_some_and(|ix| row[ix])
                });
                if hit {
                    out.mask[oy * g.out_w + ox] = true;
                    out.count += 1;
                }
            }
        }
        out
    }
}

thread_local! {
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every kernel on this thread single-threaded. Used to run whole images in
/// parallel (one per thread) instead of splitting each layer across threads: no fork/join per
/// layer, and each thread's activations stay in its own core's cache.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    let before = SERIAL.with(|s| s.replace(true));
    let r = f();
    SERIAL.with(|s| s.set(before));
    r
}

pub fn is_serial() -> bool {
    SERIAL.with(|s| s.get())
}

/// Runs `f` on a thread of rayon's pool (at once when this already is one), so that the
/// kernels' parallel loops inside fork and join by work stealing between the pool's threads.
/// Called from an outside thread, every loop would instead be injected into the pool while the
/// caller sleeps on a lock: a wake-up per layer, ~10 % of a one-image gradient.
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// `f` over each of `inputs`: several run whole, one per thread with serial kernels (no
/// fork/join per layer, each thread's activations stay in its core's cache); a lone one runs
/// with each layer split across the pool's threads (see [`in_pool`]).
pub fn per_image<T: Sync, R: Send>(inputs: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if threads() <= 1 || is_serial() {
        inputs.iter().map(f).collect()
    } else if let [one] = inputs {
        in_pool(|| vec![f(one)])
    } else {
        inputs.par_iter().map(|x| serial(|| f(x))).collect()
    }
}

fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// Calls `f(index, chunk)` for consecutive `chunk`-sized pieces of `data`, spread over rayon's
/// threads unless this thread is in [`serial`] mode.
fn for_rows(data: &mut [f32], chunk: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if is_serial() {
        data.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
}

/// dst (m×n) = lhs (m×k) · rhs, where rhs is (k×n) row-major, or, with `rhs_transposed`,
/// the transpose of an (n×k) row-major matrix. Multi-threaded through the `gemm` crate.
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    rhs: &[f32],
    rhs_transposed: bool,
    dst: &mut [f32],
) {
    assert_eq!(dst.len(), m * n);
    // SAFETY: dst holds m×n values (asserted); gemm_into checks lhs and rhs.
    unsafe { gemm_into(m, n, k, lhs, rhs, rhs_transposed, dst.as_mut_ptr()) }
}

/// [`matmul`] into a new vector, without zeroing it first (gemm writes every element): a
/// saving of one memset per layer output, which showed up at ~9 % of a gradient profile.
pub fn matmul_new(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    rhs: &[f32],
    rhs_transposed: bool,
) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    // SAFETY: the allocation holds m×n values; gemm_into writes all of them (read_dst is false,
    // and k = 0 fills with zeros) before set_len makes them visible.
    unsafe {
        gemm_into(m, n, k, lhs, rhs, rhs_transposed, out.as_mut_ptr());
        out.set_len(m * n);
    }
    out
}

/// Writes lhs · rhs to the m×n row-major `dst`, every element, without reading it.
///
/// # Safety
/// `dst` must be valid for writing m×n f32 values and must not alias `lhs` or `rhs`.
unsafe fn gemm_into(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    rhs: &[f32],
    rhs_transposed: bool,
    dst: *mut f32,
) {
    assert_eq!(lhs.len(), m * k);
    assert_eq!(rhs.len(), k * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // SAFETY: the caller guarantees m×n writable values at dst.
        unsafe { std::ptr::write_bytes(dst, 0, m * n) };
        return;
    }
    let (rhs_cs, rhs_rs) = if rhs_transposed {
        (k as isize, 1)
    } else {
        (1, n as isize)
    };
    // Small products are faster on one thread than paying rayon's fork/join.
    let par = if is_serial() || m * n * k < 64 * 64 * 64 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads())
    };
    // SAFETY: the asserts above guarantee every index gemm reads is inside lhs and rhs with
    // the strides given here; the caller guarantees dst; read_dst = false, so dst is only
    // written.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Rows of `bias.len()` values: add the bias, then clamp to [0, 6] when `relu6`.
pub fn bias_act(out: &mut [f32], bias: &[f32], relu6: bool) {
    let c = bias.len();
    let rows_per_task = (16384 / c).max(1);
    for_rows(out, rows_per_task * c, |_, chunk| {
        bias_act_chunk(chunk, bias, relu6)
    });
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn bias_act_chunk(chunk: &mut [f32], bias: &[f32], relu6: bool) {
    for row in chunk.chunks_exact_mut(bias.len()) {
        if relu6 {
            for (v, b) in row.iter_mut().zip(bias) {
                *v = (*v + b).clamp(0.0, 6.0);
            }
        } else {
            for (v, b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
    }
}

/// Gradient through a fused ReLU6, in place, from its output `y`: `g` stays where 0 < y < 6 and
/// becomes 0 elsewhere (the same convention as PyTorch's hardtanh backward).
pub fn relu6_mask_in_place(grad: &mut [f32], y: &[f32]) {
    assert_eq!(grad.len(), y.len());
    const CHUNK: usize = 16384;
    for_rows(grad, CHUNK, |i, g| {
        relu6_mask_chunk(g, &y[i * CHUNK..][..g.len()])
    });
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn relu6_mask_chunk(grad: &mut [f32], y: &[f32]) {
    for (g, y) in grad.iter_mut().zip(y) {
        if !(*y > 0.0 && *y < 6.0) {
            *g = 0.0;
        }
    }
}

/// Depthwise convolution, NHWC. `weight` is laid out [ky][kx][c]; output (B, out_h, out_w, C).
pub fn depthwise_forward(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    channels: usize,
    g: &ConvGeom,
    relu6: bool,
) -> Vec<f32> {
    let c = channels;
    assert_eq!(x.len(), g.batch * g.in_h * g.in_w * c);
    assert_eq!(weight.len(), g.kernel * g.kernel * c);
    assert_eq!(bias.len(), c);
    let mut out = vec![0f32; g.batch * g.out_h * g.out_w * c];
    for_rows(&mut out, g.out_w * c, |row, orow| {
        depthwise_forward_span(
            x,
            weight,
            bias,
            c,
            g,
            relu6,
            (row / g.out_h, row % g.out_h, 0),
            orow,
        )
    });
    out
}

/// Recomputes the output pixels of one image (batch 1) that `changed` marks, in place in
/// `out`, from the new input `x`: the same arithmetic as [`depthwise_forward`], so the result
/// is what a full pass would give.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_forward_changed(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    channels: usize,
    g: &ConvGeom,
    relu6: bool,
    changed: &Changed,
    out: &mut [f32],
) {
    let c = channels;
    assert_eq!(g.batch, 1);
    assert_eq!(changed.size(), (g.out_h, g.out_w));
    assert_eq!(x.len(), g.in_h * g.in_w * c);
    assert_eq!(out.len(), g.out_h * g.out_w * c);
    for oy in 0..g.out_h {
        for (x0, x1) in changed.runs(oy) {
            let span = &mut out[(oy * g.out_w + x0) * c..(oy * g.out_w + x1) * c];
            depthwise_forward_span(x, weight, bias, c, g, relu6, (0, oy, x0), span);
        }
    }
}

/// Output pixels `ox0..` of row `oy` of image `b` (`at` = (b, oy, ox0)), as many as `span`
/// holds.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn depthwise_forward_span(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    c: usize,
    g: &ConvGeom,
    relu6: bool,
    at: (usize, usize, usize),
    span: &mut [f32],
) {
    let k = g.kernel;
    let (b, oy, ox0) = at;
    for (i, acc) in span.chunks_exact_mut(c).enumerate() {
        let ox = ox0 + i;
        acc.copy_from_slice(bias);
        for ky in 0..k {
            let Some(iy) = ConvGeom::input_pos(oy, ky, g.stride, g.pad_top, g.in_h) else {
                continue;
            };
            let xrow = &x[(b * g.in_h + iy) * g.in_w * c..][..g.in_w * c];
            for kx in 0..k {
                let Some(ix) = ConvGeom::input_pos(ox, kx, g.stride, g.pad_left, g.in_w) else {
                    continue;
                };
                let xv = &xrow[ix * c..][..c];
                let wv = &weight[(ky * k + kx) * c..][..c];
                for ((a, xi), wi) in acc.iter_mut().zip(xv).zip(wv) {
                    *a += xi * wi;
                }
            }
        }
        if relu6 {
            for a in acc.iter_mut() {
                *a = a.clamp(0.0, 6.0);
            }
        }
    }
}

/// Gradient of a depthwise convolution w.r.t. its input, from the gradient of its
/// pre-activation output `grad` (B, out_h, out_w, C). Gathers per input row, so threads never
/// write the same memory.
pub fn depthwise_backward_input(
    grad: &[f32],
    weight: &[f32],
    channels: usize,
    g: &ConvGeom,
) -> Vec<f32> {
    let c = channels;
    assert_eq!(grad.len(), g.batch * g.out_h * g.out_w * c);
    let mut gin = vec![0f32; g.batch * g.in_h * g.in_w * c];
    for_rows(&mut gin, g.in_w * c, |row, irow| {
        depthwise_backward_row(grad, weight, c, g, row / g.in_h, row % g.in_h, irow)
    });
    gin
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn depthwise_backward_row(
    grad: &[f32],
    weight: &[f32],
    c: usize,
    g: &ConvGeom,
    b: usize,
    iy: usize,
    irow: &mut [f32],
) {
    let k = g.kernel;
    for ky in 0..k {
        let Some(oy) = ConvGeom::output_pos(iy, ky, g.stride, g.pad_top, g.out_h) else {
            continue;
        };
        let grow = &grad[(b * g.out_h + oy) * g.out_w * c..][..g.out_w * c];
        for (ix, acc) in irow.chunks_exact_mut(c).enumerate() {
            for kx in 0..k {
                let Some(ox) = ConvGeom::output_pos(ix, kx, g.stride, g.pad_left, g.out_w) else {
                    continue;
                };
                let gv = &grow[ox * c..][..c];
                let wv = &weight[(ky * k + kx) * c..][..c];
                for ((a, gi), wi) in acc.iter_mut().zip(gv).zip(wv) {
                    *a += gi * wi;
                }
            }
        }
    }
}

/// im2col for a full convolution on NHWC input: one row per output pixel, columns ordered
/// (ky, kx, c_in), zeros where the window reaches into the padding.
pub fn im2col(x: &[f32], cin: usize, g: &ConvGeom) -> Vec<f32> {
    let k = g.kernel;
    let cols = k * k * cin;
    let mut out = vec![0f32; g.batch * g.out_h * g.out_w * cols];
    for_rows(&mut out, g.out_w * cols, |row, orow| {
        let (b, oy) = (row / g.out_h, row % g.out_h);
        for (ox, dst) in orow.chunks_exact_mut(cols).enumerate() {
            im2col_pixel(x, cin, g, (b, oy, ox), dst);
        }
    });
    out
}

/// Copies row i of `fresh` (rows of `fresh.len() / rows.len()` values) over row `rows[i]` of
/// `out`: recomputed pixels back into a full activation.
pub fn scatter_rows(out: &mut [f32], rows: &[usize], fresh: &[f32]) {
    if rows.is_empty() {
        return;
    }
    let width = fresh.len() / rows.len();
    assert_eq!(width * rows.len(), fresh.len());
    for (&r, row) in rows.iter().zip(fresh.chunks_exact(width)) {
        out[r * width..][..width].copy_from_slice(row);
    }
}

/// [`im2col`] of one image (batch 1), only the rows of the output pixels `pixels`
/// (indices oy·out_w + ox), in that order.
pub fn im2col_pixels(x: &[f32], cin: usize, g: &ConvGeom, pixels: &[usize]) -> Vec<f32> {
    assert_eq!(g.batch, 1);
    let cols = g.kernel * g.kernel * cin;
    let mut out = vec![0f32; pixels.len() * cols];
    for (&p, dst) in pixels.iter().zip(out.chunks_exact_mut(cols)) {
        im2col_pixel(x, cin, g, (0, p / g.out_w, p % g.out_w), dst);
    }
    out
}

/// The im2col row of output pixel `at` = (b, oy, ox) into `dst` (zeros left in place where
/// the window reaches into the padding).
fn im2col_pixel(x: &[f32], cin: usize, g: &ConvGeom, at: (usize, usize, usize), dst: &mut [f32]) {
    let k = g.kernel;
    let (b, oy, ox) = at;
    for ky in 0..k {
        let Some(iy) = ConvGeom::input_pos(oy, ky, g.stride, g.pad_top, g.in_h) else {
            continue;
        };
        for kx in 0..k {
            let Some(ix) = ConvGeom::input_pos(ox, kx, g.stride, g.pad_left, g.in_w) else {
                continue;
            };
            let src = &x[((b * g.in_h + iy) * g.in_w + ix) * cin..][..cin];
            dst[(ky * k + kx) * cin..][..cin].copy_from_slice(src);
        }
    }
}

/// Adjoint of [`im2col`]: sums each column entry back into the input pixel it was copied from.
pub fn col2im(cols: &[f32], cin: usize, g: &ConvGeom) -> Vec<f32> {
    let k = g.kernel;
    let ncol = k * k * cin;
    let mut x = vec![0f32; g.batch * g.in_h * g.in_w * cin];
    for_rows(&mut x, g.in_w * cin, |row, xrow| {
        let (b, iy) = (row / g.in_h, row % g.in_h);
        for ky in 0..k {
            let Some(oy) = ConvGeom::output_pos(iy, ky, g.stride, g.pad_top, g.out_h) else {
                continue;
            };
            for (ix, acc) in xrow.chunks_exact_mut(cin).enumerate() {
                for kx in 0..k {
                    let Some(ox) = ConvGeom::output_pos(ix, kx, g.stride, g.pad_left, g.out_w)
                    else {
                        continue;
                    };
                    let src = &cols
                        [((b * g.out_h + oy) * g.out_w + ox) * ncol + (ky * k + kx) * cin..][..cin];
                    for (a, s) in acc.iter_mut().zip(src) {
                        *a += s;
                    }
                }
            }
        }
    });
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tensorflow() {
        // 224 -> 112 with a 3x3/2 kernel: one extra row at the bottom only.
        assert_eq!(same_padding(224, 3, 2), (112, 0));
        // 56 -> 28 with 5x5/2: total 3, one before and two after.
        assert_eq!(same_padding(56, 5, 2), (28, 1));
        // stride 1 keeps the size with symmetric padding.
        assert_eq!(same_padding(14, 5, 1), (14, 2));
        assert_eq!(same_padding(7, 3, 1), (7, 1));
    }

    #[test]
    fn changed_through_marks_exactly_the_outputs_whose_window_reads_a_change() {
        for &(h, w, k, stride) in &[(13, 11, 3, 1), (13, 11, 3, 2), (14, 9, 5, 2), (7, 7, 5, 1)] {
            let g = ConvGeom::same(1, h, w, k, stride);
            let mut changed = Changed::none(h, w);
            changed.mark(0..1, 3..5);
            changed.mark(6..8, 8..20); // clipped at the right edge
            changed.mark(h - 1..h, 0..1);
            assert_eq!(changed.count(), 2 + 2 * w.saturating_sub(8) + 1);
            let out = changed.through(&g);
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let reads = (0..k).any(|ty| {
                        (0..k).any(|tx| {
                            let iy = ConvGeom::input_pos(oy, ty, stride, g.pad_top, h);
                            let ix = ConvGeom::input_pos(ox, tx, stride, g.pad_left, w);
                            matches!((iy, ix), (Some(y), Some(x)) if changed.contains(y, x))
                        })
                    });
                    assert_eq!(
                        out.contains(oy, ox),
                        reads,
                        "{h}×{w} k{k} s{stride} at ({oy},{ox})"
                    );
                }
            }
            let runs: usize = (0..g.out_h)
                .flat_map(|y| out.runs(y))
                .map(|(a, b)| b - a)
                .sum();
            assert_eq!(runs, out.count(), "runs cover the marked pixels");
            assert_eq!(out.pixels().len(), out.count());
        }
        let mut all = Changed::none(4, 4);
        all.mark(0..9, 0..9);
        assert!(all.is_all());
        assert!(all.through(&ConvGeom::same(1, 4, 4, 3, 2)).is_all());
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for any x, y.
        let g = ConvGeom::same(2, 7, 6, 3, 2);
        let cin = 3;
        let x: Vec<f32> = (0..2 * 7 * 6 * cin)
            .map(|i| ((i * 37 % 11) as f32) - 5.0)
            .collect();
        let cols = im2col(&x, cin, &g);
        let y: Vec<f32> = (0..cols.len())
            .map(|i| ((i * 13 % 7) as f32) - 3.0)
            .collect();
        let lhs: f64 = cols
            .iter()
            .zip(&y)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        let back = col2im(&y, cin, &g);
        let rhs: f64 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        assert!((lhs - rhs).abs() < 1e-6, "{lhs} vs {rhs}");
    }

    #[test]
    fn matmul_transposed_rhs() {
        // [1 2; 3 4] · [5 6; 7 8]^T
        let lhs = [1.0, 2.0, 3.0, 4.0];
        let rhs = [5.0, 6.0, 7.0, 8.0];
        let mut dst = [0f32; 4];
        matmul(2, 2, 2, &lhs, &rhs, true, &mut dst);
        assert_eq!(dst, [17.0, 23.0, 39.0, 53.0]);
        matmul(2, 2, 2, &lhs, &rhs, false, &mut dst);
        assert_eq!(dst, [19.0, 22.0, 43.0, 50.0]);
    }
}
