//! `mobilenetv3`: classify images and benchmark the engine natively.
//!
//!     mobilenetv3 classify --weights FILE.safetensors [--config FILE.json] [--top K] [--json] IMAGE...
//!     mobilenetv3 bench --weights FILE.safetensors [--config FILE.json] [--threads N] [--iters N] [--profile]

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::main(std::env::args().skip(1).collect()));
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use mobilenetv3_wasm::image_io;
    use mobilenetv3_wasm::kernels::simd::SIMD_BACKEND;
    use mobilenetv3_wasm::network::{OpKind, Scratch};
    use mobilenetv3_wasm::{Classifier, Error, ModelConfig};
    use serde_json::json;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    const USAGE: &str = "\
mobilenetv3: timm MobileNetV3 image classification (native build of mobilenetv3-wasm)

USAGE:
    mobilenetv3 classify --weights FILE.safetensors [--config FILE.json] [--top K] [--json] IMAGE...
    mobilenetv3 bench    --weights FILE.safetensors [--config FILE.json] [--threads N] [--iters N] [--size N] [--profile] [--json]
    mobilenetv3 describe --arch NAME      print the resolved layer list as JSON

OPTIONS:
    --weights FILE   timm state_dict as safetensors (e.g. model.safetensors from timm's Hugging Face repo)
    --config FILE    timm config.json; default: NAME.config.json beside NAME.safetensors,
                     or config.json beside model.safetensors
    --arch NAME      use timm's defaults for NAME (e.g. mobilenetv3_large_100) instead of a config file
    --top K          classes to print per image (default 5)
    --json           one JSON object per line
    --threads N      worker threads (default: all cores)
    --iters N        timed forward passes for bench (default 50, after 5 warm-up passes)
    --size N         input resolution for bench (default: the config's input size)
    --profile        bench: also time every layer and print the breakdown
";

    struct Args {
        cmd: String,
        weights: Option<PathBuf>,
        config: Option<PathBuf>,
        arch: Option<String>,
        top: usize,
        json: bool,
        threads: Option<usize>,
        iters: usize,
        size: Option<usize>,
        profile: bool,
        files: Vec<PathBuf>,
    }

    fn parse(argv: Vec<String>) -> Result<Args, String> {
        let mut it = argv.into_iter();
        let cmd = it.next().ok_or("missing command (classify or bench)")?;
        if cmd == "-h" || cmd == "--help" || cmd == "help" {
            return Err(String::new());
        }
        if cmd != "classify" && cmd != "bench" && cmd != "describe" {
            return Err(format!("unknown command '{cmd}' (expected classify, bench or describe)"));
        }
        let mut a = Args { cmd, weights: None, config: None, arch: None, top: 5, json: false, threads: None, iters: 50, size: None, profile: false, files: vec![] };
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
            let number = |name: &str, v: String| v.parse::<usize>().map_err(|_| format!("{name} expects a positive integer, got '{v}'"));
            match arg.as_str() {
                "--weights" => a.weights = Some(value("--weights")?.into()),
                "--config" => a.config = Some(value("--config")?.into()),
                "--arch" => a.arch = Some(value("--arch")?),
                "--top" => a.top = number("--top", value("--top")?)?,
                "--json" => a.json = true,
                "--threads" => a.threads = Some(number("--threads", value("--threads")?)?.max(1)),
                "--iters" => a.iters = number("--iters", value("--iters")?)?.max(1),
                "--size" => a.size = Some(number("--size", value("--size")?)?),
                "--profile" => a.profile = true,
                "-h" | "--help" => return Err(String::new()),
                s if s.starts_with("--") => return Err(format!("unknown option '{s}'")),
                _ => a.files.push(arg.into()),
            }
        }
        if a.cmd == "describe" {
            return if a.arch.is_some() { Ok(a) } else { Err("describe needs --arch NAME".into()) };
        }
        if a.weights.is_none() {
            return Err("--weights FILE.safetensors is required".into());
        }
        if a.cmd == "classify" && a.files.is_empty() {
            return Err("no images given".into());
        }
        Ok(a)
    }

    /// `NAME.safetensors` -> `NAME.config.json`, `model.safetensors` -> `config.json`.
    fn config_beside(weights: &Path) -> Option<PathBuf> {
        let dir = weights.parent().unwrap_or(Path::new("."));
        let stem = weights.file_name()?.to_str()?.strip_suffix(".safetensors")?;
        [dir.join(format!("{stem}.config.json")), dir.join("config.json")].into_iter().find(|p| p.is_file())
    }

    fn load(a: &Args) -> Result<Classifier, String> {
        let weights = a.weights.as_ref().unwrap();
        let config = if let Some(arch) = &a.arch {
            ModelConfig::for_architecture(arch).map_err(|e| e.to_string())?
        } else {
            let path = match &a.config {
                Some(p) => p.clone(),
                None => config_beside(weights).ok_or_else(|| {
                    format!(
                        "no config found for {}: looked for NAME.config.json and config.json beside it; pass --config FILE or --arch NAME",
                        weights.display()
                    )
                })?,
            };
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
            ModelConfig::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        };
        let bytes = std::fs::read(weights).map_err(|e| format!("cannot read weights {}: {e}", weights.display()))?;
        Classifier::new(&bytes, config).map_err(|e| format!("{}: {e}", weights.display()))
    }

    fn pool(threads: Option<usize>) -> rayon::ThreadPool {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(t) = threads {
            b = b.num_threads(t);
        }
        b.build().expect("thread pool")
    }

    fn classify(a: &Args, clf: &mut Classifier) -> i32 {
        let mut failed = 0;
        for file in &a.files {
            let result = image_io::open(file).and_then(|img| clf.classify_pixels(&img.pixels, img.width, img.height, 3));
            let name = file.display().to_string();
            match result {
                Ok(p) => {
                    let top = p.top(a.top);
                    if a.json {
                        println!("{}", json!({"file": name, "top": top}));
                    } else {
                        println!("{name}");
                        for c in &top {
                            println!("  {:>5}  {:<40}  {:.4}", c.index, c.label, c.probability);
                        }
                    }
                }
                Err(e) => {
                    failed += 1;
                    if a.json {
                        println!("{}", json!({"file": name, "error": {"code": e.code(), "message": e.to_string()}}));
                    }
                    eprintln!("error: {}", describe(&e, file));
                }
            }
        }
        if failed > 0 {
            eprintln!("{failed} of {} file(s) could not be classified", a.files.len());
            1
        } else {
            0
        }
    }

    fn describe(e: &Error, file: &Path) -> String {
        let m = e.to_string();
        if m.contains(&file.display().to_string()) {
            m
        } else {
            format!("{}: {m}", file.display())
        }
    }

    fn percentile(sorted: &[f64], q: f64) -> f64 {
        let i = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[i]
    }

    fn bench(a: &Args, clf: &mut Classifier) -> i32 {
        let size = a.size.unwrap_or(clf.input_size());
        let input: Vec<f32> = (0..size * size * 3).map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0).collect();
        let net = &clf.network;
        let mut scratch = Scratch::default();
        let threads = rayon::current_num_threads();
        for _ in 0..5 {
            net.forward(&input, size, size, &mut scratch);
        }
        let mut times = Vec::with_capacity(a.iters);
        let mut layers: Vec<(String, OpKind, u64, f64)> = Vec::new();
        let mut layer_idx: HashMap<String, usize> = HashMap::new();
        for _ in 0..a.iters {
            let t0 = Instant::now();
            if a.profile {
                let mut last = Instant::now();
                net.forward_profiled(&input, size, size, &mut scratch, |ev| {
                    let now = Instant::now();
                    if ev.kind == OpKind::Start {
                        last = now;
                        return;
                    }
                    let key = if ev.block.is_empty() { ev.op.to_string() } else { format!("{}.{}", ev.block, ev.op) };
                    let i = *layer_idx.entry(key.clone()).or_insert_with(|| {
                        layers.push((key, ev.kind, ev.macs, 0.0));
                        layers.len() - 1
                    });
                    layers[i].3 += (now - last).as_secs_f64() * 1e3;
                    last = now;
                });
            } else {
                net.forward(&input, size, size, &mut scratch);
            }
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let (min, med, p90) = (times[0], percentile(&times, 0.5), percentile(&times, 0.9));
        let macs = net.spec.macs(size).total();
        if a.json {
            println!(
                "{}",
                json!({"model": net.spec.name, "size": size, "threads": threads, "iters": a.iters, "simd": SIMD_BACKEND,
                       "min_ms": min, "median_ms": med, "p90_ms": p90, "macs": macs})
            );
        } else {
            println!("{} at {size}x{size}, {threads} thread(s), {SIMD_BACKEND}, {} iterations", net.spec.name, a.iters);
            println!("  latency: min {min:.3} ms, median {med:.3} ms, p90 {p90:.3} ms");
            println!("  {:.1} M MACs -> {:.2} GMAC/s at the median", macs as f64 / 1e6, macs as f64 / med / 1e6);
        }
        if a.profile && !a.json {
            let n = a.iters as f64;
            let total: f64 = layers.iter().map(|l| l.3).sum::<f64>() / n;
            let mut by_kind: Vec<(OpKind, f64, u64)> = Vec::new();
            for l in &layers {
                match by_kind.iter_mut().find(|k| k.0 == l.1) {
                    Some(k) => {
                        k.1 += l.3 / n;
                        k.2 += l.2;
                    }
                    None => by_kind.push((l.1, l.3 / n, l.2)),
                }
            }
            println!("  per kernel family (mean per pass):");
            for (kind, ms, macs) in &by_kind {
                println!("    {:<15} {:>8.3} ms  {:>5.1}%  {:>7.2} GMAC/s", kind.name(), ms, 100.0 * ms / total, *macs as f64 / ms / 1e6);
            }
            let mut sorted = layers.clone();
            sorted.sort_by(|x, y| y.3.total_cmp(&x.3));
            println!("  slowest layers:");
            for l in sorted.iter().take(12) {
                println!("    {:<24} {:<15} {:>8.3} ms  {:>7.2} GMAC/s", l.0, l.1.name(), l.3 / n, l.2 as f64 / (l.3 / n) / 1e6);
            }
        }
        0
    }

    pub fn main(argv: Vec<String>) -> i32 {
        let a = match parse(argv) {
            Ok(a) => a,
            Err(msg) if msg.is_empty() => {
                print!("{USAGE}");
                return 0;
            }
            Err(msg) => {
                eprintln!("error: {msg}\n\n{USAGE}");
                return 2;
            }
        };
        if a.cmd == "describe" {
            return match ModelConfig::for_architecture(a.arch.as_deref().unwrap()).and_then(|c| c.net_spec()) {
                Ok(spec) => {
                    println!("{}", serde_json::to_string_pretty(&spec).unwrap());
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    2
                }
            };
        }
        pool(a.threads).install(|| {
            let mut clf = match load(&a) {
                Ok(c) => c,
                Err(msg) => {
                    eprintln!("error: {msg}");
                    return 2;
                }
            };
            if a.cmd == "classify" {
                classify(&a, &mut clf)
            } else {
                bench(&a, &mut clf)
            }
        })
    }
}
