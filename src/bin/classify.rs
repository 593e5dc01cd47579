//! `classify`: the engine from the command line.
//!
//! ```text
//! classify [--model DIR] [--json | --embed | --explain [--ablate zero|mean]] [--backend cpu|gpu|auto] [TEXT]
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
    use encoder_lens::{embedded, Backend, Classifier, Engine, ForwardOptions};
    use std::io::{BufRead, Write};
    use std::process::ExitCode;
    use std::time::Instant;

    const USAGE: &str = "usage: classify [--model DIR] [--json | --embed | --explain [--ablate zero|mean]] [--backend cpu|gpu|auto] [TEXT]
      --model DIR    a model folder with config.json, model.safetensors and vocab.txt: this project's
                     format or a Hugging Face BERT folder (e.g. models/minilm, models/minilm-sentiment)
                     (default: the embedded LayerNorm sentiment model)
      --json         print one JSON object per text
      --embed        print the pooled, L2-normalised sentence embedding of each text as a JSON array
      --explain      print one JSON object per text: token attributions (occlusion, attention rollout),
                     the Δp(label) of ablating each attention head alone, and the logit lens
      --ablate M     how --explain ablates a head: zero (default) or mean (its mean over the text)
      --head DIR     classify with a head taught by --teach (DIR/head.json + DIR/head.safetensors) in place
                     of the model's own labels
      --teach FILE   train a softmax head on the model's pooled features from FILE (one `label<TAB>text`
                     per line) and write it to DIR/head.json + DIR/head.safetensors (--save-head DIR);
                     prints a JSON report (accuracy on the examples, milliseconds)
      --backend B    cpu (default); gpu (wgpu on Vulkan; an error without an adapter); auto (the GPU
                     when there is one, else cpu)
      TEXT           the text to classify; without it, one text per line is read from stdin";

    struct Args {
        model: Option<String>,
        json: bool,
        embed: bool,
        explain: bool,
        ablate: encoder_lens::AblationMode,
        head: Option<String>,
        teach: Option<String>,
        save_head: Option<String>,
        backend: Backend,
        text: Option<String>,
    }

    fn parse_args() -> Result<Args, String> {
        let mut args = Args { model: None, json: false, embed: false, explain: false, ablate: Default::default(), head: None, teach: None, save_head: None, backend: Backend::Cpu, text: None };
        let mut it = std::env::args_os().skip(1);
        while let Some(a) = it.next() {
            let a = a.into_string().map_err(|_| "arguments must be valid UTF-8".to_string())?;
            match a.as_str() {
                "--json" => args.json = true,
                "--embed" => args.embed = true,
                "--explain" => args.explain = true,
                "--head" => args.head = Some(next_value(&mut it, "--head")?),
                "--teach" => args.teach = Some(next_value(&mut it, "--teach")?),
                "--save-head" => args.save_head = Some(next_value(&mut it, "--save-head")?),
                "--ablate" => args.ablate = next_value(&mut it, "--ablate")?.parse().map_err(|e: encoder_lens::Error| e.to_string())?,
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

    fn print_explanation(e: &mut Engine, text: &str, mode: encoder_lens::AblationMode, out: &mut impl Write) -> Result<(), String> {
        let x = pollster::block_on(encoder_lens::explain::explain(e, text, None, mode)).map_err(|e| e.to_string())?;
        let mut v = serde_json::to_value(&x).map_err(|e| e.to_string())?;
        v["backend"] = serde_json::json!(e.last_backend());
        writeln!(out, "{v}").map_err(|e| e.to_string())
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

    /// `--teach FILE --save-head DIR`: labels in order of first appearance, their texts, one head.
    fn teach(e: &mut Engine, file: &str, dir: Option<&str>) -> Result<(), String> {
        let dir = dir.ok_or("--teach needs --save-head DIR (where head.json and head.safetensors go)")?;
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        let (mut labels, mut examples): (Vec<String>, Vec<Vec<String>>) = (Vec::new(), Vec::new());
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let (label, t) = line.split_once('\t').ok_or_else(|| format!("{file}:{}: expected `label<TAB>text`", n + 1))?;
            let i = labels.iter().position(|l| l == label.trim()).unwrap_or_else(|| {
                labels.push(label.trim().to_string());
                examples.push(Vec::new());
                labels.len() - 1
            });
            examples[i].push(t.to_string());
        }
        let (head, report) = pollster::block_on(encoder_lens::teach::train(e, &labels, &examples)).map_err(|e| e.to_string())?;
        let d = std::path::Path::new(dir);
        std::fs::create_dir_all(d).map_err(|e| format!("{dir}: {e}"))?;
        std::fs::write(d.join("head.json"), head.config_json()).map_err(|e| format!("{dir}/head.json: {e}"))?;
        std::fs::write(d.join("head.safetensors"), head.safetensors()).map_err(|e| format!("{dir}/head.safetensors: {e}"))?;
        println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn load_head(e: &mut Engine, dir: &str) -> Result<(), String> {
        let d = std::path::Path::new(dir);
        let cfg = std::fs::read_to_string(d.join("head.json")).map_err(|e| format!("{dir}/head.json: {e}"))?;
        let w = std::fs::read(d.join("head.safetensors")).map_err(|e| format!("{dir}/head.safetensors: {e}"))?;
        let head = encoder_lens::teach::Head::from_files(&cfg, &w).map_err(|e| format!("{dir}: {e}"))?;
        e.set_head(head).map_err(|e| format!("{dir}: {e}"))
    }

    fn run_one(c: &mut Engine, args: &Args, text: &str, out: &mut impl Write) -> Result<(), String> {
        if args.embed {
            print_embedding(c, text, out)
        } else if args.explain {
            print_explanation(c, text, args.ablate, out)
        } else {
            print_one(c, text, args.json, out)
        }
    }

    pub fn main() -> ExitCode {
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
        if let Some(file) = &args.teach {
            return match teach(&mut c, file, args.save_head.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("classify: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        if let Some(dir) = &args.head {
            if let Err(e) = load_head(&mut c, dir) {
                eprintln!("classify: cannot load head: {e}");
                return ExitCode::FAILURE;
            }
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if let Some(text) = &args.text {
            let result =
                run_one(&mut c, &args, text, &mut out);
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
                    run_one(&mut c, &args, text, &mut out)
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
