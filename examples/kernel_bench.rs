//! Kernel micro-benchmark for the browsers (not shipped): built as its own wasm by
//! `bench/kernels.mjs`, which times each depthwise interior variant (or, with `--pointwise`, each
//! GEMM micro-kernel variant) on the network's layer shapes in every engine, interleaved, so
//! engines' code generators can be compared.

use mobilenetv3_wasm::kernels::depthwise::{
    depthwise_variant, zeros_len, DepthwiseVariant, PackedDepthwise,
};
use mobilenetv3_wasm::kernels::pointwise::{pointwise_variant, GemmVariant, PackedPointwise};
use mobilenetv3_wasm::kernels::{Act, ConvGeometry, Padding};
use mobilenetv3_wasm::testutil::Lcg;

struct DwCase {
    input: Vec<f32>,
    g: ConvGeometry,
    w: PackedDepthwise,
    zeros: Vec<f32>,
    out: Vec<f32>,
}

static mut DW: Option<DwCase> = None;

/// Sets up a depthwise k x k, stride s convolution of an h x h x c input (hard-swish).
#[no_mangle]
pub extern "C" fn dw_setup(h: usize, c: usize, k: usize, s: usize) {
    let mut g = Lcg::new(2);
    let geo = ConvGeometry::new(h, h, k, s, Padding::Symmetric);
    let input = g.vec(h * h * c, 1.0);
    let w = PackedDepthwise::new(&g.vec(c * k * k, 0.5), &g.vec(c, 0.5), c, k);
    let out = vec![0.0; geo.out_h * geo.out_w * c];
    // SAFETY: single-threaded harness.
    unsafe {
        DW = Some(DwCase {
            input,
            zeros: vec![0.0; zeros_len(&geo, c)],
            g: geo,
            w,
            out,
        })
    };
}

#[no_mangle]
pub extern "C" fn dw_run(variant: usize, reps: usize) -> f32 {
    // SAFETY: single-threaded harness.
    let c = unsafe { (*core::ptr::addr_of_mut!(DW)).as_mut().unwrap() };
    for _ in 0..reps {
        depthwise_variant(
            DepthwiseVariant::ALL[variant],
            &c.input,
            &c.g,
            &c.w,
            Act::HardSwish,
            &c.zeros,
            &mut c.out,
        );
    }
    c.out[c.out.len() / 2]
}

#[no_mangle]
pub extern "C" fn dw_variants() -> usize {
    DepthwiseVariant::ALL.len()
}

struct GemmCase {
    a: Vec<f32>,
    m: usize,
    w: PackedPointwise,
    out: Vec<f32>,
    act: Act,
}

static mut GEMM: Option<GemmCase> = None;

/// Sets up a 1x1 convolution as an m x k x n GEMM with activation `act` (an `Act` code).
#[no_mangle]
pub extern "C" fn gemm_setup(m: usize, k: usize, n: usize, act: u8) {
    let mut g = Lcg::new(1);
    let a = g.vec(m * k, 1.0);
    let w = PackedPointwise::new(&g.vec(n * k, 0.5), &g.vec(n, 0.5), k, n);
    // SAFETY: single-threaded harness.
    unsafe { GEMM = Some(GemmCase { a, m, w, out: vec![0.0; m * n], act: Act::from_code(act) }) };
}

/// Runs the GEMM `reps` times with micro-kernel `variant` (an index into `GemmVariant::ALL`).
#[no_mangle]
pub extern "C" fn gemm_run(variant: usize, reps: usize) -> f32 {
    // SAFETY: single-threaded harness.
    let c = unsafe { (*core::ptr::addr_of_mut!(GEMM)).as_mut().unwrap() };
    for _ in 0..reps {
        pointwise_variant(GemmVariant::ALL[variant], &c.a, c.m, &c.w, c.act, None, &mut c.out);
    }
    c.out[c.out.len() / 2]
}

#[no_mangle]
pub extern "C" fn gemm_variants() -> usize {
    GemmVariant::ALL.len()
}
