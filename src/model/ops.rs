//! Fused convolution layers as candle custom ops, NHWC, batch-norm already folded in.
//!
//! Why custom ops: candle's grouped `conv2d` runs one convolution per channel (thousands per
//! Lite0 forward) and its backward also computes kernel gradients nobody asks for here;
//! candle's `clamp` backward materialises full-size tensors for the broadcast bounds. Each op
//! here does conv + bias + optional ReLU6 in one pass and its backward computes only the
//! gradient of the input, which is all saliency needs.

use std::sync::Arc;

use candle_core::{
    backend::BackendStorage, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor,
};

use super::kernels::{self, Changed, ConvGeom};

/// A contiguous f32 view of a custom op's input.
fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: expected f32 input, got {:?}", storage.dtype());
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

fn nhwc(layout: &Layout, channels: usize, op: &str) -> Result<(usize, usize, usize)> {
    let (b, h, w, c) = layout.shape().dims4()?;
    if c != channels {
        candle_core::bail!(
            "{op}: expected {channels} channels (NHWC), got shape {:?}",
            layout.shape()
        );
    }
    Ok((b, h, w))
}

/// Activation that follows a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    Relu6,
}

impl Act {
    /// Turns the gradient after the activation into the gradient before it, in place, from
    /// the op's output `y` (unused for the identity).
    pub(crate) fn backward_in_place(self, grad: &mut [f32], y: &[f32]) {
        if self == Act::Relu6 {
            kernels::relu6_mask_in_place(grad, y);
        }
    }
}

/// 1×1 convolution = one matrix product over all B·H·W pixels.
#[derive(Clone)]
pub struct Pointwise {
    /// (cin × cout), row-major.
    weight: Arc<[f32]>,
    bias: Arc<[f32]>,
    cin: usize,
    cout: usize,
    act: Act,
}

impl Pointwise {
    /// `weight` in PyTorch layout (cout, cin, 1, 1), BN folded.
    pub fn new(weight_oc_ic: &[f32], bias: Vec<f32>, cin: usize, cout: usize, act: Act) -> Self {
        assert_eq!(weight_oc_ic.len(), cin * cout);
        assert_eq!(bias.len(), cout);
        let mut w = vec![0f32; cin * cout];
        for co in 0..cout {
            for ci in 0..cin {
                w[ci * cout + co] = weight_oc_ic[co * cin + ci];
            }
        }
        Self {
            weight: w.into(),
            bias: bias.into(),
            cin,
            cout,
            act,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(self.clone())
    }

    pub fn cout(&self) -> usize {
        self.cout
    }

    /// Forward over `m` pixels of `cin` channels.
    pub(crate) fn run(&self, x: &[f32], m: usize) -> Vec<f32> {
        let mut out = kernels::matmul_new(m, self.cout, self.cin, x, &self.weight, false);
        kernels::bias_act(&mut out, &self.bias, self.act == Act::Relu6);
        out
    }

    /// Recomputes the rows `rows` (pixel indices) of `out`, a forward output over all of `x`'s
    /// pixels, from the new `x`. With every row changed, the plain forward.
    pub(crate) fn rerun_rows(&self, x: &[f32], rows: &[usize], out: &mut Vec<f32>) {
        let m = x.len() / self.cin;
        if rows.len() == m {
            *out = self.run(x, m);
            return;
        }
        if rows.is_empty() {
            return;
        }
        let mut picked = Vec::with_capacity(rows.len() * self.cin);
        for &r in rows {
            picked.extend_from_slice(&x[r * self.cin..][..self.cin]);
        }
        kernels::scatter_rows(out, rows, &self.run(&picked, rows.len()));
    }

    /// Input gradient from the output gradient (consumed: the ReLU6 mask is applied in place)
    /// and the output `y` (for that mask).
    pub(crate) fn input_grad(&self, mut grad: Vec<f32>, y: &[f32], m: usize) -> Vec<f32> {
        self.act.backward_in_place(&mut grad, y);
        self.through_weights(&grad, m)
    }

    /// Input gradient of an op without activation (the projections), borrowing `grad`.
    pub(crate) fn linear_input_grad(&self, grad: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(
            self.act,
            Act::None,
            "an activation's gradient needs its output"
        );
        self.through_weights(grad, m)
    }

    /// G · Wᵀ: the gradient before the weights, from the gradient after them.
    fn through_weights(&self, grad: &[f32], m: usize) -> Vec<f32> {
        // weight is (cin × cout); its transpose as an (cout × cin) right-hand side.
        kernels::matmul_new(m, self.cin, self.cout, grad, &self.weight, true)
    }
}

impl CustomOp1 for Pointwise {
    fn name(&self) -> &'static str {
        "pointwise-conv"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(storage, layout, self.name())?;
        let (b, h, w) = nhwc(layout, self.cin, self.name())?;
        let out = self.run(x, b * h * w);
        Ok((CpuStorage::F32(out), Shape::from((b, h, w, self.cout))))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = grad_res.contiguous()?;
        Ok(Some(
            g.apply_op2_no_bwd(res, &PointwiseBackward(self.clone()))?,
        ))
    }
}

/// Input gradient of [`Pointwise`]: mask by the ReLU6, then G · Wᵀ.
struct PointwiseBackward(Pointwise);

impl CustomOp2 for PointwiseBackward {
    fn name(&self) -> &'static str {
        "pointwise-conv-backward"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ys: &CpuStorage,
        yl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = &self.0;
        let grad = f32_slice(gs, gl, self.name())?;
        let (b, h, w) = nhwc(gl, op.cout, self.name())?;
        let gin = op.input_grad(grad.to_vec(), f32_slice(ys, yl, self.name())?, b * h * w);
        Ok((CpuStorage::F32(gin), Shape::from((b, h, w, op.cin))))
    }
}

/// Depthwise k×k convolution with TF 'SAME' padding and stride 1 or 2.
#[derive(Clone)]
pub struct Depthwise {
    /// [ky][kx][c].
    weight: Arc<[f32]>,
    bias: Arc<[f32]>,
    channels: usize,
    kernel: usize,
    stride: usize,
    act: Act,
}

impl Depthwise {
    /// `weight` in PyTorch layout (c, 1, k, k), BN folded.
    pub fn new(
        weight_c1kk: &[f32],
        bias: Vec<f32>,
        channels: usize,
        kernel: usize,
        stride: usize,
        act: Act,
    ) -> Self {
        assert_eq!(weight_c1kk.len(), channels * kernel * kernel);
        assert_eq!(bias.len(), channels);
        let mut w = vec![0f32; channels * kernel * kernel];
        for c in 0..channels {
            for t in 0..kernel * kernel {
                w[t * channels + c] = weight_c1kk[c * kernel * kernel + t];
            }
        }
        Self {
            weight: w.into(),
            bias: bias.into(),
            channels,
            kernel,
            stride,
            act,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(self.clone())
    }

    /// Recomputes the output pixels `changed` marks (one image) in `out` from the new `x`.
    pub(crate) fn rerun(&self, x: &[f32], g: &ConvGeom, changed: &Changed, out: &mut Vec<f32>) {
        if changed.is_all() {
            *out = self.run(x, g);
            return;
        }
        kernels::depthwise_forward_changed(
            x,
            &self.weight,
            &self.bias,
            self.channels,
            g,
            self.act == Act::Relu6,
            changed,
            out,
        );
    }
}

impl Spatial for Depthwise {
    const NAME: &'static str = "depthwise-conv";
    const BACKWARD_NAME: &'static str = "depthwise-conv-backward";
    fn in_channels(&self) -> usize {
        self.channels
    }
    fn out_channels(&self) -> usize {
        self.channels
    }

    fn geom(&self, b: usize, h: usize, w: usize) -> ConvGeom {
        ConvGeom::same(b, h, w, self.kernel, self.stride)
    }

    /// Forward of `b` images of `h`×`w`.
    fn run(&self, x: &[f32], g: &ConvGeom) -> Vec<f32> {
        kernels::depthwise_forward(
            x,
            &self.weight,
            &self.bias,
            self.channels,
            g,
            self.act == Act::Relu6,
        )
    }

    /// Input gradient from the output gradient and the output `y`.
    fn input_grad(&self, mut grad: Vec<f32>, y: &[f32], g: &ConvGeom) -> Vec<f32> {
        self.act.backward_in_place(&mut grad, y);
        kernels::depthwise_backward_input(&grad, &self.weight, self.channels, g)
    }
}

impl CustomOp1 for Depthwise {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        spatial_fwd(self, storage, layout)
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        spatial_bwd(self, arg, res, grad_res)
    }
}

/// Dense k×k convolution (the stem) through im2col + one matrix product.
#[derive(Clone)]
pub struct DenseConv {
    /// (k·k·cin × cout), rows ordered (ky, kx, ci).
    weight: Arc<[f32]>,
    bias: Arc<[f32]>,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    act: Act,
}

impl DenseConv {
    /// `weight` in PyTorch layout (cout, cin, k, k), BN folded.
    pub fn new(
        weight_oikk: &[f32],
        bias: Vec<f32>,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        act: Act,
    ) -> Self {
        let kk = kernel * kernel;
        assert_eq!(weight_oikk.len(), cout * cin * kk);
        assert_eq!(bias.len(), cout);
        let mut w = vec![0f32; kk * cin * cout];
        for co in 0..cout {
            for ci in 0..cin {
                for t in 0..kk {
                    w[(t * cin + ci) * cout + co] = weight_oikk[(co * cin + ci) * kk + t];
                }
            }
        }
        Self {
            weight: w.into(),
            bias: bias.into(),
            cin,
            cout,
            kernel,
            stride,
            act,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(self.clone())
    }

    /// Recomputes the output pixels `changed` marks (one image) in `out` from the new `x`.
    pub(crate) fn rerun(&self, x: &[f32], g: &ConvGeom, changed: &Changed, out: &mut Vec<f32>) {
        if changed.is_all() {
            *out = self.run(x, g);
            return;
        }
        let pixels = changed.pixels();
        if pixels.is_empty() {
            return;
        }
        let cols = kernels::im2col_pixels(x, self.cin, g, &pixels);
        kernels::scatter_rows(out, &pixels, &self.outputs_of_cols(&cols, pixels.len()));
    }

    /// The outputs of `m` pixels from their im2col rows: one matrix product, bias, activation.
    fn outputs_of_cols(&self, cols: &[f32], m: usize) -> Vec<f32> {
        let ncol = self.kernel * self.kernel * self.cin;
        let mut out = kernels::matmul_new(m, self.cout, ncol, cols, &self.weight, false);
        kernels::bias_act(&mut out, &self.bias, self.act == Act::Relu6);
        out
    }
}

impl Spatial for DenseConv {
    const NAME: &'static str = "dense-conv";
    const BACKWARD_NAME: &'static str = "dense-conv-backward";
    fn in_channels(&self) -> usize {
        self.cin
    }
    fn out_channels(&self) -> usize {
        self.cout
    }

    fn geom(&self, b: usize, h: usize, w: usize) -> ConvGeom {
        ConvGeom::same(b, h, w, self.kernel, self.stride)
    }

    /// Forward through im2col and one matrix product.
    fn run(&self, x: &[f32], g: &ConvGeom) -> Vec<f32> {
        let cols = kernels::im2col(x, self.cin, g);
        self.outputs_of_cols(&cols, g.batch * g.out_h * g.out_w)
    }

    /// Input gradient from the output gradient and the output `y`.
    fn input_grad(&self, mut grad: Vec<f32>, y: &[f32], g: &ConvGeom) -> Vec<f32> {
        self.act.backward_in_place(&mut grad, y);
        let ncol = self.kernel * self.kernel * self.cin;
        let m = g.batch * g.out_h * g.out_w;
        let gcols = kernels::matmul_new(m, ncol, self.cout, &grad, &self.weight, true);
        kernels::col2im(&gcols, self.cin, g)
    }
}

impl CustomOp1 for DenseConv {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        spatial_fwd(self, storage, layout)
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        spatial_bwd(self, arg, res, grad_res)
    }
}

/// What the k×k convolutions (depthwise and dense) share as candle ops: NHWC in and out,
/// 'SAME' geometry, a slice-level forward and input gradient.
pub(crate) trait Spatial: Clone + Send + Sync + 'static {
    const NAME: &'static str;
    const BACKWARD_NAME: &'static str;
    fn in_channels(&self) -> usize;
    fn out_channels(&self) -> usize;
    fn geom(&self, b: usize, h: usize, w: usize) -> ConvGeom;
    /// Forward of `g.batch` images.
    fn run(&self, x: &[f32], g: &ConvGeom) -> Vec<f32>;
    /// Input gradient from the output gradient (consumed: the ReLU6 mask is applied in place)
    /// and the output `y` (for that mask).
    fn input_grad(&self, grad: Vec<f32>, y: &[f32], g: &ConvGeom) -> Vec<f32>;
}

fn spatial_fwd<T: Spatial>(
    op: &T,
    storage: &CpuStorage,
    layout: &Layout,
) -> Result<(CpuStorage, Shape)> {
    let x = f32_slice(storage, layout, T::NAME)?;
    let (b, h, w) = nhwc(layout, op.in_channels(), T::NAME)?;
    let g = op.geom(b, h, w);
    let out = op.run(x, &g);
    Ok((
        CpuStorage::F32(out),
        Shape::from((b, g.out_h, g.out_w, op.out_channels())),
    ))
}

fn spatial_bwd<T: Spatial>(
    op: &T,
    arg: &Tensor,
    res: &Tensor,
    grad_res: &Tensor,
) -> Result<Option<Tensor>> {
    let (_, h, w, _) = arg.dims4()?;
    let backward = SpatialBackward {
        op: op.clone(),
        in_h: h,
        in_w: w,
    };
    Ok(Some(
        grad_res.contiguous()?.apply_op2_no_bwd(res, &backward)?,
    ))
}

/// Input gradient of a [`Spatial`] op, from the output gradient and the output.
struct SpatialBackward<T> {
    op: T,
    in_h: usize,
    in_w: usize,
}

impl<T: Spatial> CustomOp2 for SpatialBackward<T> {
    fn name(&self) -> &'static str {
        T::BACKWARD_NAME
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ys: &CpuStorage,
        yl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = &self.op;
        let grad = f32_slice(gs, gl, T::BACKWARD_NAME)?;
        let (b, oh, ow) = nhwc(gl, op.out_channels(), T::BACKWARD_NAME)?;
        let g = op.geom(b, self.in_h, self.in_w);
        debug_assert_eq!((g.out_h, g.out_w), (oh, ow));
        let gin = op.input_grad(grad.to_vec(), f32_slice(ys, yl, T::BACKWARD_NAME)?, &g);
        Ok((
            CpuStorage::F32(gin),
            Shape::from((b, self.in_h, self.in_w, op.in_channels())),
        ))
    }
}
