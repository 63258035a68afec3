//! Kernel micro-benchmark for the browsers (not shipped): built as its own wasm by
//! `bench/kernels.mjs`, which times each depthwise interior variant on the network's layer
//! shapes in every engine, interleaved, so engines' code generators can be compared.

use mobilenetv3_wasm::kernels::depthwise::{
    depthwise_variant, zeros_len, DepthwiseVariant, PackedDepthwise,
};
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
