//! `mobilenetv3`: classify images and benchmark the engine natively.
//!
//!     mobilenetv3 classify --weights FILE.safetensors [--config FILE.json] [--top K] [--json] IMAGE...
//!     mobilenetv3 bench --weights FILE.safetensors [--config FILE.json] [--threads N] [--iters N] [--profile]
//!     mobilenetv3 describe --arch NAME

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::main(std::env::args().skip(1).collect()));
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use mobilenetv3_wasm::files::{read_capped, MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES};
    use mobilenetv3_wasm::image_io;
    use mobilenetv3_wasm::model::config::{INPUT_SIZE_RANGE, MAX_NUM_CLASSES};
    use mobilenetv3_wasm::kernels::simd::SIMD_BACKEND;
    use mobilenetv3_wasm::model::ops::OpList;
    use mobilenetv3_wasm::network::{Scratch, StepTime};
    use mobilenetv3_wasm::{synthetic_input, Classifier, Error, ModelConfig};
    use serde_json::json;
        use std::path::{Path, PathBuf};
    use std::time::Instant;

    const USAGE: &str = "\
mobilenetv3: timm MobileNetV3 image classification (native build of mobilenetv3-wasm)

USAGE:
    mobilenetv3 classify --weights FILE.safetensors [--config FILE.json] [--top K] [--json] IMAGE...
    mobilenetv3 bench    --weights FILE.safetensors [--config FILE.json] [--threads N] [--iters N] [--size N] [--profile] [--json]
    mobilenetv3 describe --arch NAME      print the decoded blocks and the op list (steps, shapes, MACs) as JSON

OPTIONS:
    --weights FILE   timm state_dict as safetensors (e.g. model.safetensors from timm's Hugging Face repo)
    --config FILE    timm config.json; default: NAME.config.json beside NAME.safetensors,
                     or config.json beside model.safetensors
    --arch NAME      use timm's defaults for NAME (e.g. mobilenetv3_large_100) instead of a config file
    --top K          classes to print per image (default 5; 1 to 100000)
    --json           one JSON object per line, errors included (an error object with code and message)
    --threads N      worker threads (default: all cores; 1 to 256)
    --iters N        timed forward passes for bench (default 50, after 5 warm-up passes; 1 to 100000)
    --size N         input resolution for bench (default: the config's input size; 16 to 2048)
    --profile        bench: also time every layer and print the breakdown
";

    const MAX_THREADS: usize = 256;
    const MAX_ITERS: usize = 100_000;

    /// A failure before or outside the per-image loop: a code and a message, printed as
    /// `error: MESSAGE` or, with `--json`, as `{"error": {"code": ..., "message": ...}}`.
    struct Failure {
        code: &'static str,
        message: String,
    }

    impl Failure {
        fn new(e: Error) -> Failure {
            Failure { code: e.code(), message: e.to_string() }
        }
        fn prefixed(e: Error, path: &Path) -> Failure {
            let m = e.to_string();
            let shown = path.display().to_string();
            Failure { code: e.code(), message: if m.contains(&shown) { m } else { format!("{shown}: {m}") } }
        }
    }

    fn report(json: bool, f: &Failure) {
        if json {
            println!("{}", json!({"error": {"code": f.code, "message": f.message}}));
        }
        eprintln!("error: {}", f.message);
    }

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
        let cmd = it.next().ok_or("missing command (classify, bench or describe)")?;
        if cmd == "-h" || cmd == "--help" || cmd == "help" {
            return Err(String::new());
        }
        if cmd != "classify" && cmd != "bench" && cmd != "describe" {
            return Err(format!("unknown command '{cmd}' (expected classify, bench or describe)"));
        }
        let mut a = Args { cmd, weights: None, config: None, arch: None, top: 5, json: false, threads: None, iters: 50, size: None, profile: false, files: vec![] };
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
            // Ranges checked here: 0 or a huge value would panic, abort on allocation or hang.
            let number = |name: &str, v: String, (lo, hi): (usize, usize)| {
                v.parse::<usize>().ok().filter(|n| (lo..=hi).contains(n)).ok_or(format!("{name} expects an integer from {lo} to {hi}, got '{v}'"))
            };
            match arg.as_str() {
                "--weights" => a.weights = Some(value("--weights")?.into()),
                "--config" => a.config = Some(value("--config")?.into()),
                "--arch" => a.arch = Some(value("--arch")?),
                "--top" => a.top = number("--top", value("--top")?, (1, MAX_NUM_CLASSES))?,
                "--json" => a.json = true,
                "--threads" => a.threads = Some(number("--threads", value("--threads")?, (1, MAX_THREADS))?),
                "--iters" => a.iters = number("--iters", value("--iters")?, (1, MAX_ITERS))?,
                "--size" => a.size = Some(number("--size", value("--size")?, INPUT_SIZE_RANGE)?),
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

    /// `--weights DIR`: the .safetensors files in DIR, to suggest one.
    fn weights_in(dir: &Path) -> String {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .map(|p| p.display().to_string())
            .collect();
        found.sort();
        let looked = format!("looked for {} and {}", dir.join("model.safetensors").display(), dir.join("*.safetensors").display());
        match found.len() {
            0 => format!("{looked}: none there"),
            _ => format!("{looked}: found {}; pass one as --weights FILE", found.into_iter().take(8).collect::<Vec<_>>().join(", ")),
        }
    }

    fn load(a: &Args) -> Result<Classifier, Failure> {
        let weights = a.weights.as_ref().unwrap();
        if weights.is_dir() {
            return Err(Failure {
                code: "FILE_READ",
                message: format!("--weights {} is a directory, not a weights file; {}", weights.display(), weights_in(weights)),
            });
        }
        let config = if let Some(arch) = &a.arch {
            ModelConfig::for_architecture(arch).map_err(Failure::new)?
        } else {
            let path = match &a.config {
                Some(p) => p.clone(),
                None => config_beside(weights).ok_or_else(|| Failure {
                    code: "CONFIG",
                    message: format!(
                        "no config found for {}: looked for NAME.config.json and config.json beside it; pass --config FILE or --arch NAME",
                        weights.display()
                    ),
                })?,
            };
            let bytes = read_capped(&path, "config", MAX_CONFIG_BYTES).map_err(Failure::new)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| Failure::prefixed(Error::Config("config.json is not UTF-8 text".into()), &path))?;
            ModelConfig::from_json(&text).map_err(|e| Failure::prefixed(e, &path))?
        };
        let bytes = read_capped(weights, "weights", MAX_WEIGHTS_BYTES).map_err(Failure::new)?;
        Classifier::new(&bytes, config).map_err(|e| Failure::prefixed(e, weights))
    }

    fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool, Failure> {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(t) = threads {
            b = b.num_threads(t);
        }
        b.build().map_err(|e| Failure { code: "INTERNAL", message: format!("cannot start the worker threads: {e}; try fewer --threads") })
    }

    /// A label for the aligned text table: control characters blanked, cut to `width` columns.
    fn column(label: &str, width: usize) -> String {
        let clean: String = label.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if clean.chars().count() <= width {
            return clean;
        }
        let mut cut: String = clean.chars().take(width - 1).collect();
        cut.push('…');
        cut
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
                            println!("  {:>5}  {:<40}  {:.4}", c.index, column(&c.label, 40), c.probability);
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
        let input = synthetic_input(size);
        let mut scratch = Scratch::default();
        if let Err(e) = clf.network.try_reserve(&mut scratch, size, size) {
            report(a.json, &Failure::new(e));
            return 2;
        }
        let threads = rayon::current_num_threads();
        for _ in 0..5 {
            clf.network.forward(&input, size, size, &mut scratch);
        }
        let mut times = Vec::with_capacity(a.iters);
        for _ in 0..a.iters {
            let t0 = Instant::now();
            clf.network.forward(&input, size, size, &mut scratch);
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        // Per-step times summed over as many profiled passes.
        let mut layers: Vec<StepTime> = Vec::new();
        if a.profile {
            let clock = Instant::now();
            for _ in 0..a.iters {
                let steps = match clf.profile(size, move || clock.elapsed().as_secs_f64() * 1e3) {
                    Ok(s) => s,
                    Err(e) => {
                        report(a.json, &Failure::new(e));
                        return 2;
                    }
                };
                if layers.is_empty() {
                    layers = steps;
                } else {
                    layers.iter_mut().zip(steps).for_each(|(l, s)| l.ms += s.ms);
                }
            }
        }
        let net = &clf.network;
        times.sort_by(f64::total_cmp);
        let (min, med, p90) = (times[0], percentile(&times, 0.5), percentile(&times, 0.9));
        let macs = net.ops.macs(size, size);
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
            let total: f64 = layers.iter().map(|l| l.ms).sum::<f64>() / n;
            let mut by_kind: Vec<(&str, f64, u64)> = Vec::new();
            for l in &layers {
                match by_kind.iter_mut().find(|k| k.0 == l.kind) {
                    Some(k) => {
                        k.1 += l.ms / n;
                        k.2 += l.macs;
                    }
                    None => by_kind.push((l.kind, l.ms / n, l.macs)),
                }
            }
            println!("  per kernel family (mean per pass):");
            for (kind, ms, macs) in &by_kind {
                println!("    {:<15} {:>8.3} ms  {:>5.1}%  {:>7.2} GMAC/s", kind, ms, 100.0 * ms / total, *macs as f64 / ms / 1e6);
            }
            let mut sorted = layers.clone();
            sorted.sort_by(|x, y| y.ms.total_cmp(&x.ms));
            println!("  slowest layers:");
            for l in sorted.iter().take(12) {
                println!("    {:<24} {:<15} {:>8.3} ms  {:>7.2} GMAC/s", l.name, l.kind, l.ms / n, l.macs as f64 / (l.ms / n) / 1e6);
            }
        }
        0
    }

    pub fn main(argv: Vec<String>) -> i32 {
        // Known before parsing, so that usage errors are JSON too.
        let json = argv.iter().any(|a| a == "--json");
        let a = match parse(argv) {
            Ok(a) => a,
            Err(msg) if msg.is_empty() => {
                print!("{USAGE}");
                return 0;
            }
            Err(msg) => {
                if json {
                    println!("{}", json!({"error": {"code": "USAGE", "message": msg}}));
                }
                eprintln!("error: {msg}\n\n{USAGE}");
                return 2;
            }
        };
        if a.cmd == "describe" {
            return match ModelConfig::for_architecture(a.arch.as_deref().unwrap()).and_then(|c| Ok((c.net_spec()?, c.preprocess.input_size))) {
                Ok((spec, size)) => {
                    // The decoded blocks plus the op list every part of the engine runs from.
                    let mut v = serde_json::to_value(&spec).unwrap();
                    v["ops"] = OpList::build(&spec).describe(size);
                    println!("{}", serde_json::to_string_pretty(&v).unwrap());
                    0
                }
                Err(e) => {
                    report(a.json, &Failure::new(e));
                    2
                }
            };
        }
        let pool = match pool(a.threads) {
            Ok(p) => p,
            Err(f) => {
                report(a.json, &f);
                return 2;
            }
        };
        pool.install(|| {
            let mut clf = match load(&a) {
                Ok(c) => c,
                Err(f) => {
                    report(a.json, &f);
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
