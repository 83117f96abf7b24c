//! EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant: ReLU6, no squeeze-excite, fixed stem
//! and head), channels-last, batch-norm folded into each convolution at load time.
//!
//! Parameter names follow the PyTorch package `efficientnet-lite-pytorch` 0.1.0, so the
//! converted checkpoint in `weights/` loads through a plain `VarBuilder`.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use rayon::prelude::*;

use super::kernels::{self, Changed};
use super::ops::{Act, DenseConv, Depthwise, Pointwise, Spatial};

/// Larger batches run as sub-batches of this size: beyond it the activations of a block
/// (B×112×112×96 floats after the first expansion) fall out of cache and throughput drops
/// (measured: 110 images/s at 4, 87 at 8, 67 at 32).
const SUB_BATCH: usize = 4;

/// Batch-norm epsilon of the TensorFlow original (1e-3, not PyTorch's 1e-5).
const BN_EPS: f64 = 1e-3;

/// One stage of MBConv blocks, as in the reference's block strings ("r2_k3_s22_e6_i16_o24").
#[derive(Debug, Clone, Copy)]
pub struct StageConfig {
    pub repeats: usize,
    pub kernel: usize,
    pub stride: usize,
    pub expand: usize,
    pub cin: usize,
    pub cout: usize,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub stem_channels: usize,
    pub stages: Vec<StageConfig>,
    pub head_channels: usize,
    pub num_classes: usize,
}

impl Config {
    pub fn lite0() -> Self {
        let s = |repeats, kernel, stride, expand, cin, cout| StageConfig {
            repeats,
            kernel,
            stride,
            expand,
            cin,
            cout,
        };
        Self {
            stem_channels: 32,
            stages: vec![
                s(1, 3, 1, 1, 32, 16),
                s(2, 3, 2, 6, 16, 24),
                s(2, 5, 2, 6, 24, 40),
                s(3, 3, 2, 6, 40, 80),
                s(3, 5, 1, 6, 80, 112),
                s(4, 5, 2, 6, 112, 192),
                s(1, 3, 1, 6, 192, 320),
            ],
            head_channels: 1280,
            num_classes: 1000,
        }
    }
}

/// Loads conv weight `{prefix}.weight` and the batch-norm at `bn`, returns (weight, bias) with
/// the normalisation folded in: w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε).
fn folded_conv_bn(
    vb: &VarBuilder,
    conv: &str,
    bn: &str,
    shape: (usize, usize, usize, usize),
) -> Result<(Vec<f32>, Vec<f32>)> {
    let cout = shape.0;
    let w = vb
        .get(shape, &format!("{conv}.weight"))?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let bn = vb.pp(bn);
    let gamma = bn.get(cout, "weight")?.to_vec1::<f32>()?;
    let beta = bn.get(cout, "bias")?.to_vec1::<f32>()?;
    let mean = bn.get(cout, "running_mean")?.to_vec1::<f32>()?;
    let var = bn.get(cout, "running_var")?.to_vec1::<f32>()?;
    let per_out = w.len() / cout;
    let mut wf = w;
    let mut bias = vec![0f32; cout];
    for o in 0..cout {
        let scale = (gamma[o] as f64 / (var[o] as f64 + BN_EPS).sqrt()) as f32;
        for v in &mut wf[o * per_out..(o + 1) * per_out] {
            *v *= scale;
        }
        bias[o] = beta[o] - mean[o] * scale;
    }
    Ok((wf, bias))
}

/// Mobile inverted bottleneck: 1×1 expand (ReLU6) → depthwise k×k (ReLU6) → 1×1 project
/// (linear), with a residual when shape is kept.
pub struct MbConv {
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
    residual: bool,
}

impl MbConv {
    pub fn new(
        vb: VarBuilder,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        expand: usize,
    ) -> Result<Self> {
        let mid = cin * expand;
        let expand = if expand != 1 {
            let (w, b) = folded_conv_bn(&vb, "_expand_conv", "_bn0", (mid, cin, 1, 1))?;
            Some(Pointwise::new(&w, b, cin, mid, Act::Relu6))
        } else {
            None
        };
        let (w, b) = folded_conv_bn(&vb, "_depthwise_conv", "_bn1", (mid, 1, kernel, kernel))?;
        let depthwise = Depthwise::new(&w, b, mid, kernel, stride, Act::Relu6);
        let (w, b) = folded_conv_bn(&vb, "_project_conv", "_bn2", (cout, mid, 1, 1))?;
        let project = Pointwise::new(&w, b, mid, cout, Act::None);
        Ok(Self {
            expand,
            depthwise,
            project,
            residual: stride == 1 && cin == cout,
        })
    }
}

impl Module for MbConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = match &self.expand {
            Some(e) => e.forward(x)?,
            None => x.clone(),
        };
        let h = self.depthwise.forward(&h)?;
        let h = self.project.forward(&h)?;
        if self.residual {
            h + x
        } else {
            Ok(h)
        }
    }
}

/// One block run on one image's slices: its output and the intermediates its backward (and an
/// incremental re-run) needs.
#[derive(Clone)]
struct BlockRun {
    expanded: Option<Vec<f32>>,
    depthwise: Vec<f32>,
    out: Vec<f32>,
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
}

impl MbConv {
    /// The block on one `h`×`w` image, through the slice-level kernels (no tensors).
    fn run(&self, x: &[f32], h: usize, w: usize) -> BlockRun {
        let expanded = self.expand.as_ref().map(|e| e.run(x, h * w));
        let g = self.depthwise.geom(1, h, w);
        let depthwise = self.depthwise.run(expanded.as_deref().unwrap_or(x), &g);
        let mut out = self.project.run(&depthwise, g.out_h * g.out_w);
        if self.residual {
            out.iter_mut().zip(x).for_each(|(o, i)| *o += i);
        }
        BlockRun {
            expanded,
            depthwise,
            out,
            in_h: h,
            in_w: w,
            out_h: g.out_h,
            out_w: g.out_w,
        }
    }

    /// Brings `run`, this block's pass over an earlier input, up to date with the new input
    /// `x`, which differs from the earlier one only at the pixels `changed` marks. Returns
    /// the output pixels that changed.
    fn rerun(&self, x: &[f32], run: &mut BlockRun, changed: &Changed) -> Changed {
        let g = self.depthwise.geom(1, run.in_h, run.in_w);
        let out_changed = changed.through(&g);
        if changed.count() == 0 {
            return out_changed;
        }
        if let (Some(e), Some(expanded)) = (&self.expand, run.expanded.as_mut()) {
            e.rerun_rows(x, &changed.pixels(), expanded);
        }
        let dw_in = run.expanded.as_deref().unwrap_or(x);
        self.depthwise
            .rerun(dw_in, &g, &out_changed, &mut run.depthwise);
        let rows = out_changed.pixels();
        self.project.rerun_rows(&run.depthwise, &rows, &mut run.out);
        if self.residual {
            let c = self.project.cout();
            for &p in &rows {
                let (o, i) = (&mut run.out[p * c..][..c], &x[p * c..][..c]);
                o.iter_mut().zip(i).for_each(|(o, i)| *o += i);
            }
        }
        out_changed
    }
}

/// Everything one forward pass yields.
pub struct Forward {
    /// (B, 7, 7, 1280) after the head's ReLU6, channels last; non-negative.
    pub feature_map: Tensor,
    /// (B, 1280): global average of `feature_map`.
    pub embedding: Tensor,
}

pub struct EfficientNetLite0 {
    stem: DenseConv,
    blocks: Vec<MbConv>,
    head: Pointwise,
    fc: Linear,
    /// The stage layout the blocks were built from (where the stride-16 stage ends).
    config: Config,
}

impl EfficientNetLite0 {
    pub fn new(vb: VarBuilder, config: Config) -> Result<Self> {
        let sc = config.stem_channels;
        let (w, b) = folded_conv_bn(&vb, "_conv_stem", "_bn0", (sc, 3, 3, 3))?;
        let stem = DenseConv::new(&w, b, 3, sc, 3, 2, Act::Relu6);
        let mut blocks = Vec::new();
        let vbb = vb.pp("_blocks");
        for st in &config.stages {
            for r in 0..st.repeats {
                let (cin, stride) = if r == 0 {
                    (st.cin, st.stride)
                } else {
                    (st.cout, 1)
                };
                let block = MbConv::new(
                    vbb.pp(blocks.len()),
                    cin,
                    st.cout,
                    st.kernel,
                    stride,
                    st.expand,
                )?;
                blocks.push(block);
            }
        }
        let last = config.stages.last().map(|s| s.cout).unwrap_or(sc);
        let hc = config.head_channels;
        let (w, b) = folded_conv_bn(&vb, "_conv_head", "_bn1", (hc, last, 1, 1))?;
        let head = Pointwise::new(&w, b, last, hc, Act::Relu6);
        let fc = candle_nn::linear(hc, config.num_classes, vb.pp("_fc"))?;
        Ok(Self {
            stem,
            blocks,
            head,
            fc,
            config,
        })
    }

    /// Loads a safetensors checkpoint held in memory (see `weights/`).
    pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self> {
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        Self::new(vb, Config::lite0())
    }

    /// `x`: (B, H, W, 3) normalised input, channels last. Returns the last feature map and
    /// the pooled embedding. Differentiable w.r.t. `x` when `x` is a `Var`.
    pub fn forward(&self, x: &Tensor) -> Result<Forward> {
        let b = x.dim(0)?;
        let threads = rayon::current_num_threads();
        if threads <= 1 || kernels::is_serial() {
            // Already inside a worker.
            return self.forward_sequential(x);
        }
        if b <= 1 {
            // One image: each layer split across threads.
            return kernels::in_pool(|| self.forward_sequential(x));
        }
        // Several images: whole sub-batches per thread, each thread's kernels serial (measured
        // faster than splitting every layer: no fork/join per layer, activations stay in the
        // core's cache).
        let per = b.div_ceil(threads).min(SUB_BATCH);
        let starts: Vec<usize> = (0..b).step_by(per).collect();
        let maps = starts
            .par_iter()
            .map(|&s| {
                kernels::serial(|| {
                    Ok(self
                        .forward_chunk(&x.narrow(0, s, per.min(b - s))?)?
                        .feature_map)
                })
            })
            .collect::<Result<Vec<Tensor>>>()?;
        let feature_map = Tensor::cat(&maps, 0)?;
        let embedding = global_average(&feature_map)?;
        Ok(Forward {
            feature_map,
            embedding,
        })
    }

    /// Sub-batches of at most SUB_BATCH, one after the other.
    fn forward_sequential(&self, x: &Tensor) -> Result<Forward> {
        let b = x.dim(0)?;
        if b <= SUB_BATCH {
            return self.forward_chunk(x);
        }
        let mut maps = Vec::with_capacity(b.div_ceil(SUB_BATCH));
        for start in (0..b).step_by(SUB_BATCH) {
            let len = SUB_BATCH.min(b - start);
            maps.push(self.forward_chunk(&x.narrow(0, start, len)?)?.feature_map);
        }
        let feature_map = Tensor::cat(&maps, 0)?;
        let embedding = global_average(&feature_map)?;
        Ok(Forward {
            feature_map,
            embedding,
        })
    }

    fn forward_chunk(&self, x: &Tensor) -> Result<Forward> {
        self.head_forward(&self.blocks_forward(x)?)
    }

    /// Stem and MBConv blocks: (B, H, W, 3) → (B, H/32, W/32, 320), the input of the head
    /// convolution (Grad-CAM's layer).
    pub fn blocks_forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.stem.forward(x)?;
        for block in &self.blocks {
            h = block.forward(&h)?;
        }
        Ok(h)
    }

    /// How many MBConv blocks run before the network's last stride-16 stage ends (the 14×14
    /// map at 224): the split point of [`Self::blocks_forward_until`].
    pub fn blocks_at_stride_16(&self) -> usize {
        let (mut stride, mut blocks, mut at16) = (2, 0, 0);
        for st in &self.config.stages {
            stride *= st.stride;
            blocks += st.repeats;
            if stride == 16 {
                at16 = blocks;
            }
        }
        at16
    }

    /// Stem and the first `n` MBConv blocks.
    pub fn blocks_forward_until(&self, x: &Tensor, n: usize) -> Result<Tensor> {
        let mut h = self.stem.forward(x)?;
        for block in &self.blocks[..n] {
            h = block.forward(&h)?;
        }
        Ok(h)
    }

    /// The MBConv blocks from the `n`-th on, continuing [`Self::blocks_forward_until`].
    pub fn blocks_forward_from(&self, h: &Tensor, n: usize) -> Result<Tensor> {
        let mut h = h.clone();
        for block in &self.blocks[n..] {
            h = block.forward(&h)?;
        }
        Ok(h)
    }

    /// Head 1×1 convolution + ReLU6 and global pooling, from [`Self::blocks_forward`]'s output.
    pub fn head_forward(&self, h: &Tensor) -> Result<Forward> {
        let feature_map = self.head.forward(h)?;
        let embedding = global_average(&feature_map)?;
        Ok(Forward {
            feature_map,
            embedding,
        })
    }

    /// (B, 1280) embeddings.
    pub fn embed(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward(x)?.embedding)
    }

    /// ImageNet logits from pooled embeddings (dropout is identity at inference).
    pub fn logits(&self, embedding: &Tensor) -> Result<Tensor> {
        self.fc.forward(embedding)
    }
}

/// What one image's forward pass keeps for its backward pass or an incremental re-run.
#[derive(Clone)]
struct Saved {
    /// Input size.
    h: usize,
    w: usize,
    /// Stem output.
    stem: Vec<f32>,
    blocks: Vec<BlockRun>,
    /// Head output (7×7×1280 for a 224 input).
    head: Vec<f32>,
}

/// One image's activations, kept so that a copy of the image with a few regions changed can be
/// scored by recomputing only the activations those regions reach (see
/// [`EfficientNetLite0::rerun`]). The deletion and insertion curves change 1/50 of the patches
/// per step, which leaves most of the high-resolution layers, the costly ones, untouched.
#[derive(Clone)]
pub struct Retained(Saved);

impl Retained {
    /// The pooled embedding of the image these activations belong to.
    pub fn embedding(&self, model: &EfficientNetLite0) -> Vec<f32> {
        model.pool(&self.0.head)
    }
}

impl EfficientNetLite0 {
    /// One image (H×W×3, channels last) to its feature map, keeping what the backward needs.
    fn forward_saving(&self, x: &[f32], h: usize, w: usize) -> (Saved, usize, usize) {
        let g = self.stem.geom(1, h, w);
        let stem = self.stem.run(x, &g);
        let (mut hh, mut ww) = (g.out_h, g.out_w);
        let mut blocks: Vec<BlockRun> = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let r = block.run(blocks.last().map_or(&stem, |b| &b.out), hh, ww);
            (hh, ww) = (r.out_h, r.out_w);
            blocks.push(r);
        }
        let head = self
            .head
            .run(blocks.last().map_or(&stem, |b| &b.out), hh * ww);
        let saved = Saved {
            h,
            w,
            stem,
            blocks,
            head,
        };
        (saved, hh, ww)
    }

    /// Mean of a head output over its cells: the pooled embedding.
    fn pool(&self, head: &[f32]) -> Vec<f32> {
        let c = self.head.cout();
        let mut pooled = vec![0f32; c];
        for cell in head.chunks_exact(c) {
            pooled.iter_mut().zip(cell).for_each(|(p, v)| *p += v);
        }
        let n = (head.len() / c) as f32;
        pooled.iter_mut().for_each(|p| *p /= n);
        pooled
    }

    /// One image (H×W×3, channels last) to its pooled embedding, keeping nothing.
    fn embed_image(&self, x: &[f32], h: usize, w: usize) -> Vec<f32> {
        let g = self.stem.geom(1, h, w);
        let mut cur = self.stem.run(x, &g);
        let (mut hh, mut ww) = (g.out_h, g.out_w);
        for block in &self.blocks {
            let r = block.run(&cur, hh, ww);
            (hh, ww) = (r.out_h, r.out_w);
            cur = r.out;
        }
        self.pool(&self.head.run(&cur, hh * ww))
    }

    /// One image's forward pass (H×W×3, channels last), keeping every activation for
    /// [`Self::rerun`]. Its kernels split each layer across rayon's threads unless called
    /// inside [`kernels::serial`].
    pub fn retain(&self, x: &[f32], h: usize, w: usize) -> Result<Retained> {
        if x.len() != h * w * 3 {
            candle_core::bail!("input has {} values, expected {h}×{w}×3", x.len());
        }
        Ok(Retained(self.forward_saving(x, h, w).0))
    }

    /// Brings `retained` up to date with `x`, an image that differs from the one it was
    /// computed on only at the pixels `changed` marks (an input-sized map): each layer
    /// recomputes just the pixels whose receptive field meets the change. Gives the same
    /// activations as a fresh [`Self::retain`] of `x`, up to float rounding.
    pub fn rerun(&self, retained: &mut Retained, x: &[f32], changed: &Changed) -> Result<()> {
        let saved = &mut retained.0;
        if x.len() != saved.h * saved.w * 3 || changed.size() != (saved.h, saved.w) {
            candle_core::bail!(
                "rerun of a {}×{} pass with a {}-value input and a {:?} change",
                saved.h,
                saved.w,
                x.len(),
                changed.size()
            );
        }
        let g = self.stem.geom(1, saved.h, saved.w);
        let mut changed = changed.through(&g);
        self.stem.rerun(x, &g, &changed, &mut saved.stem);
        let mut input: &[f32] = &saved.stem;
        for (block, run) in self.blocks.iter().zip(saved.blocks.iter_mut()) {
            changed = block.rerun(input, run, &changed);
            input = &run.out;
        }
        self.head
            .rerun_rows(input, &changed.pixels(), &mut saved.head);
        Ok(())
    }

    /// Pooled embeddings of prepared images (H×W×3 each), without candle tensors: whole
    /// images one per thread, kernels single-threaded.
    pub fn embed_images_raw(
        &self,
        inputs: &[Vec<f32>],
        h: usize,
        w: usize,
    ) -> Result<Vec<Vec<f32>>> {
        if let Some(bad) = inputs.iter().find(|x| x.len() != h * w * 3) {
            candle_core::bail!("input has {} values, expected {h}×{w}×3", bad.len());
        }
        Ok(kernels::per_image(inputs, |x| self.embed_image(x, h, w)))
    }

    /// T(x) = f(x)·`v` and ∂T/∂x for one image, where f is the pooled embedding. Hand-written
    /// backward through the same kernels as the candle ops' backward (only input gradients).
    fn target_and_grad(&self, x: &[f32], h: usize, w: usize, v: &[f32]) -> (f32, Vec<f32>) {
        let (saved, fh, fw) = self.forward_saving(x, h, w);
        let cells = fh * fw;
        let c = self.head.cout();
        let mut t = 0f64;
        for cell in saved.head.chunks_exact(c) {
            t += cell
                .iter()
                .zip(v)
                .map(|(a, b)| (*a * *b) as f64)
                .sum::<f64>();
        }
        let t = (t / cells as f64) as f32;
        // ∂T/∂(head output) = v / cells at every position.
        let g_head: Vec<f32> = (0..cells)
            .flat_map(|_| v.iter().map(|x| x / cells as f32))
            .collect();
        let mut g = self.head.input_grad(g_head, &saved.head, cells);
        for (block, run) in self.blocks.iter().zip(&saved.blocks).rev() {
            let (bh, bw) = (run.in_h, run.in_w);
            let dg = block.depthwise.geom(1, bh, bw);
            let g_dw = block.project.linear_input_grad(&g, dg.out_h * dg.out_w);
            let g_exp = block.depthwise.input_grad(g_dw, &run.depthwise, &dg);
            let mut g_in = match (&block.expand, &run.expanded) {
                (Some(e), Some(y)) => e.input_grad(g_exp, y, bh * bw),
                _ => g_exp,
            };
            if block.residual {
                g_in.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
            }
            g = g_in;
        }
        let sg = self.stem.geom(1, h, w);
        (t, self.stem.input_grad(g, &saved.stem, &sg))
    }

    /// T(x) = f(x)·`v` and ∂T/∂x for each of `inputs` (H×W×3 each, channels last). Images run
    /// whole, one per thread (kernels single-threaded); a lone image splits each layer across
    /// threads instead. Same values as candle's autograd through [`Self::embed`], without its
    /// bookkeeping (a zero tensor and an add per node).
    pub fn target_and_input_grads(
        &self,
        inputs: &[Vec<f32>],
        h: usize,
        w: usize,
        v: &[f32],
    ) -> Result<Vec<(f32, Vec<f32>)>> {
        if v.len() != self.head.cout() {
            candle_core::bail!(
                "target vector has {} values, expected {}",
                v.len(),
                self.head.cout()
            );
        }
        if let Some(bad) = inputs.iter().find(|x| x.len() != h * w * 3) {
            candle_core::bail!("input has {} values, expected {h}×{w}×3", bad.len());
        }
        Ok(kernels::per_image(inputs, |x| {
            self.target_and_grad(x, h, w, v)
        }))
    }
}

/// Mean over the spatial dimensions of an NHWC map: (B, H, W, C) → (B, C).
pub fn global_average(map: &Tensor) -> Result<Tensor> {
    let (b, h, w, c) = map.dims4()?;
    map.reshape((b, h * w, c))?.mean(D::Minus2)
}
