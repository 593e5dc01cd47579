//! `classify`: the engine from the command line.
//!
//! ```text
//! classify [--model DIR] [--json | --embed] [--backend cpu] [TEXT]
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
    use encoder_lens::{embedded, Classifier, ForwardOptions};
    use std::io::{BufRead, Write};
    use std::process::ExitCode;
    use std::time::Instant;

    const USAGE: &str = "usage: classify [--model DIR] [--json | --embed] [--backend cpu] [TEXT]
      --model DIR    a model folder with config.json, model.safetensors and vocab.txt: this project's
                     format or a Hugging Face BERT folder (e.g. models/minilm, models/minilm-sentiment)
                     (default: the embedded LayerNorm sentiment model)
      --json         print one JSON object per text
      --embed        print the pooled, L2-normalised sentence embedding of each text as a JSON array
      --backend B    cpu (default)
      TEXT           the text to classify; without it, one text per line is read from stdin";

    struct Args {
        model: Option<String>,
        json: bool,
        embed: bool,
        text: Option<String>,
    }

    fn parse_args() -> Result<Args, String> {
        let mut args = Args { model: None, json: false, embed: false, text: None };
        let mut it = std::env::args_os().skip(1);
        while let Some(a) = it.next() {
            let a = a.into_string().map_err(|_| "arguments must be valid UTF-8".to_string())?;
            match a.as_str() {
                "--json" => args.json = true,
                "--embed" => args.embed = true,
                "--model" => args.model = Some(next_value(&mut it, "--model")?),
                "--backend" => {
                    let b = next_value(&mut it, "--backend")?;
                    if b != "cpu" {
                        return Err(format!("unknown backend `{b}` (this build has: cpu)"));
                    }
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
                let read = |f: &str| std::fs::read(dir.join(f)).map_err(|e| format!("{}: {e}", dir.join(f).display()));
                let text = |f: &str| {
                    String::from_utf8(read(f)?).map_err(|_| format!("{}: not valid UTF-8", dir.join(f).display()))
                };
                let config = text("config.json")?;
                if encoder_lens::hf::is_hf_bert_config(&config) {
                    return load_hf(dir, config);
                }
                Classifier::from_bytes(&config, &read("model.safetensors")?, &text("vocab.txt")?)
                    .map_err(|e| format!("{}: {e}", dir.display()))
            }
        }
    }

    /// A Hugging Face BERT folder: weights from `model.safetensors` or the files its
    /// `model.safetensors.index.json` names; the tokenizer and sentence-transformers configs when present.
    fn load_hf(dir: &std::path::Path, config: String) -> Result<Classifier, String> {
        use encoder_lens::hf::{index_weight_files, HfFiles, HfOverrides};
        let path = |f: &str| dir.join(f);
        let read = |f: &str| std::fs::read(path(f)).map_err(|e| format!("{}: {e}", path(f).display()));
        let text = |f: &str| String::from_utf8(read(f)?).map_err(|_| format!("{}: not valid UTF-8", path(f).display()));
        let optional = |f: &str| if path(f).is_file() { text(f).map(Some) } else { Ok(None) };
        let weight_files = match optional("model.safetensors.index.json")? {
            Some(index) => index_weight_files(&index).map_err(|e| format!("{}: {e}", dir.display()))?,
            None => vec!["model.safetensors".to_string()],
        };
        let weights = weight_files.iter().map(|f| read(f)).collect::<Result<Vec<_>, _>>()?;
        let (vocab, tokenizer_config) = (text("vocab.txt")?, optional("tokenizer_config.json")?);
        let (sentence_bert, pooling) = (optional("sentence_bert_config.json")?, optional("1_Pooling/config.json")?);
        let files = HfFiles {
            config_json: &config,
            vocab_txt: &vocab,
            weights: weights.iter().map(|w| &w[..]).collect(),
            tokenizer_config_json: tokenizer_config.as_deref(),
            sentence_bert_config_json: sentence_bert.as_deref(),
            pooling_config_json: pooling.as_deref(),
        };
        Classifier::from_hf(&files, &HfOverrides::default()).map_err(|e| format!("{}: {e}", dir.display()))
    }

    fn print_embedding(c: &Classifier, text: &str, out: &mut impl Write) -> Result<(), String> {
        let e = c.embed(&[text]).map_err(|e| e.to_string())?;
        // Shortest decimal that reads back as the same f32 (valid JSON numbers: no NaN after normalising).
        let values: Vec<String> = e[0].iter().map(|v| v.to_string()).collect();
        writeln!(out, "[{}]", values.join(",")).map_err(|e| e.to_string())
    }

    fn print_one(c: &Classifier, text: &str, json: bool, out: &mut impl Write) -> Result<(), String> {
        if c.model.classifier.is_none() {
            return Err("this model has no classifier head (no labels): use --embed".into());
        }
        let t0 = Instant::now();
        let r = c.classify(&[text], &ForwardOptions::default(), false).map_err(|e| e.to_string())?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        let p = &r.predictions[0];
        let line = if json {
            let probs: serde_json::Map<String, serde_json::Value> =
                r.labels.iter().zip(&p.probabilities).map(|(l, &v)| (l.clone(), serde_json::json!(v))).collect();
            serde_json::json!({
                "label": p.label,
                "probabilities": probs,
                "backend": "cpu",
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
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if let Some(text) = &args.text {
            let result =
                if args.embed { print_embedding(&c, text, &mut out) } else { print_one(&c, text, args.json, &mut out) };
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
                    if args.embed { print_embedding(&c, text, &mut out) } else { print_one(&c, text, args.json, &mut out) }
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
