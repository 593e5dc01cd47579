//! `classify`: the engine from the command line.
//!
//! ```text
//! classify [--model DIR] [--json | --embed] [--backend cpu|gpu|auto] [TEXT]
//! ```
//! With no TEXT, reads one text per line from stdin. Errors go to stderr with a non-zero exit.

// The CLI is native only; a wasm32 build of the crate's tests also compiles bins, so it gets an empty main.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use encoder_lens::folder::Folder;
    use encoder_lens::{embedded, quant, Backend, Classifier, Engine, ForwardOptions};
    use std::io::{BufRead, Write};
    use std::process::ExitCode;
    use std::time::Instant;

    const USAGE: &str = "usage: classify [--model DIR] [--json | --embed] [--backend cpu|gpu|auto] [TEXT]
       classify quantize --model DIR --to int8|int8-per-channel|f16 --out DIR2
      --model DIR    a model folder with config.json, model.safetensors and vocab.txt: this project's
                     format or a Hugging Face BERT folder (e.g. models/minilm, models/minilm-sentiment)
                     (default: the embedded LayerNorm sentiment model)
      --json         print one JSON object per text
      --embed        print the pooled, L2-normalised sentence embedding of each text as a JSON array
      --backend B    cpu (default); gpu (wgpu on Vulkan; an error without an adapter); auto (the GPU
                     when there is one, else cpu)
      TEXT           the text to classify; without it, one text per line is read from stdin
  quantize         convert an f32 model folder (either format) to int8 (PyTorch's dynamic quantization,
                   one scale per tensor), int8-per-channel (one scale per output row) or f16 (linear
                   weights and embedding tables); prints sizes and the largest logit difference against
                   the f32 model on a built-in check set";

    struct Args {
        model: Option<String>,
        json: bool,
        embed: bool,
        backend: Backend,
        text: Option<String>,
    }

    fn parse_args() -> Result<Args, String> {
        let mut args = Args { model: None, json: false, embed: false, backend: Backend::Cpu, text: None };
        let mut it = std::env::args_os().skip(1);
        while let Some(a) = it.next() {
            let a = a.into_string().map_err(|_| "arguments must be valid UTF-8".to_string())?;
            match a.as_str() {
                "--json" => args.json = true,
                "--embed" => args.embed = true,
                "--model" => args.model = Some(next_value(&mut it, "--model")?),
                "--backend" => {
                    let b = next_value(&mut it, "--backend")?;
                    args.backend = b.parse().map_err(|_| format!("unknown backend `{b}` (cpu, gpu or auto)"))?;
                }
                "-h" | "--help" => return Err(String::new()),
                s if s.starts_with("--") => return Err(format!("unknown option `{s}`")),
                _ => {
                    if args.text.is_some() {
                        return Err("give one TEXT (quote it), or none to read stdin".into());
                    }
                    args.text = Some(a)
                }
            }
        }
        Ok(args)
    }

    fn next_value(it: &mut impl Iterator<Item = std::ffi::OsString>, flag: &str) -> Result<String, String> {
        it.next()
            .and_then(|v| v.into_string().ok())
            .ok_or_else(|| format!("{flag} needs a value"))
    }

    fn load(model: Option<&str>) -> Result<Classifier, String> {
        match model {
            None => embedded::SENTIMENT_LN.load().map_err(|e| e.to_string()),
            Some(dir) => {
                let dir = std::path::Path::new(dir);
                Folder::read(dir).and_then(|f| f.classifier()).map_err(|e| format!("{}: {e}", dir.display()))
            }
        }
    }

    fn print_embedding(e: &mut Engine, text: &str, out: &mut impl Write) -> Result<(), String> {
        let e = pollster::block_on(e.embed(&[text])).map_err(|e| e.to_string())?;
        // Shortest decimal that reads back as the same f32 (valid JSON numbers: no NaN after normalising).
        let values: Vec<String> = e[0].iter().map(|v| v.to_string()).collect();
        writeln!(out, "[{}]", values.join(",")).map_err(|e| e.to_string())
    }

    fn print_one(e: &mut Engine, text: &str, json: bool, out: &mut impl Write) -> Result<(), String> {
        if e.classifier.model.classifier.is_none() {
            return Err("this model has no classifier head (no labels): use --embed".into());
        }
        let t0 = Instant::now();
        let r = pollster::block_on(e.classify(&[text], &ForwardOptions::default())).map_err(|e| e.to_string())?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        let p = &r.predictions[0];
        let line = if json {
            let probs: serde_json::Map<String, serde_json::Value> =
                r.labels.iter().zip(&p.probabilities).map(|(l, &v)| (l.clone(), serde_json::json!(v))).collect();
            serde_json::json!({
                "label": p.label,
                "probabilities": probs,
                "backend": e.last_backend(),
                "ms": (ms * 1000.0).round() / 1000.0,
                "tokens": p.ids.len(),
                "truncated": p.truncated,
            })
            .to_string()
        } else {
            let probs: Vec<String> = r.labels.iter().zip(&p.probabilities).map(|(l, v)| format!("{l}={v:.4}")).collect();
            format!("{}\t{}\t{:.2} ms", p.label, probs.join(" "), ms)
        };
        writeln!(out, "{line}").map_err(|e| e.to_string())
    }

    /// `classify quantize --model DIR --to P --out DIR2`.
    fn quantize(mut it: impl Iterator<Item = std::ffi::OsString>) -> Result<(), String> {
        let (mut model, mut to, mut out) = (None, None, None);
        while let Some(a) = it.next() {
            match a.to_str() {
                Some("--model") => model = Some(next_value(&mut it, "--model")?),
                Some("--to") => to = Some(next_value(&mut it, "--to")?),
                Some("--out") => out = Some(next_value(&mut it, "--out")?),
                _ => return Err(format!("quantize: unexpected argument `{}`", a.to_string_lossy())),
            }
        }
        let (Some(model), Some(to), Some(out)) = (model, to, out) else {
            return Err("quantize needs --model DIR, --to int8|int8-per-channel|f16 and --out DIR2".into());
        };
        let target: quant::Target = to.parse().map_err(|e: encoder_lens::Error| e.to_string())?;
        let (src, out) = (std::path::Path::new(&model), std::path::Path::new(&out));
        let ctx = |e: encoder_lens::Error| format!("{}: {e}", src.display());
        let folder = Folder::read(src).map_err(ctx)?;
        let original = folder.classifier().map_err(ctx)?;
        let conv = quant::convert_files(&folder.files().map_err(ctx)?, target).map_err(ctx)?;
        folder.write_converted(&conv, out).map_err(|e| e.to_string())?;
        let converted = Folder::read(out).and_then(|f| f.classifier()).map_err(|e| format!("{}: {e}", out.display()))?;
        let (diff, same) = quant::compare(&original, &converted).map_err(|e| e.to_string())?;
        let (a, b) = (folder.weights_bytes(), conv.weights.len());
        println!("{}: {} tensors converted to {to}", out.display(), conv.converted.len());
        println!("weights: {a} bytes (f32) -> {b} bytes ({to}), {:.1} %", 100.0 * b as f64 / a as f64);
        let what = if original.model.classifier.is_some() { "logit" } else { "pooled value" };
        println!("check set ({} texts): max |{what} difference| {diff:.3e}, same top label on {same}", quant::CHECK_TEXTS.len());
        Ok(())
    }

    pub fn main() -> ExitCode {
        let mut raw = std::env::args_os().skip(1);
        if raw.next().is_some_and(|a| a == "quantize") {
            return match quantize(raw) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("classify: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        let args = match parse_args() {
            Ok(a) => a,
            Err(e) => {
                if !e.is_empty() {
                    eprintln!("classify: {e}");
                }
                eprintln!("{USAGE}");
                return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
            }
        };
        let c = match load(args.model.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("classify: cannot load model: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut c = match pollster::block_on(Engine::new(c, args.backend)) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("classify: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(why) = c.fallback_reason() {
            eprintln!("classify: running on the CPU: {why}");
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if let Some(text) = &args.text {
            let result =
                if args.embed { print_embedding(&mut c, text, &mut out) } else { print_one(&mut c, text, args.json, &mut out) };
            return match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("classify: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        let mut failed = false;
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        let mut line_no = 0;
        loop {
            buf.clear();
            match stdin.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    eprintln!("classify: reading stdin: {e}");
                    return ExitCode::FAILURE;
                }
            }
            line_no += 1;
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            let result = std::str::from_utf8(&buf)
                .map_err(|e| format!("line {line_no}: not valid UTF-8 ({e})"))
                .and_then(|text| {
                    if args.embed { print_embedding(&mut c, text, &mut out) } else { print_one(&mut c, text, args.json, &mut out) }
                        .map_err(|e| format!("line {line_no}: {e}"))
                });
            if let Err(e) = result {
                eprintln!("classify: {e}");
                failed = true;
            }
        }
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}
