//! `classify`: the engine from the command line, for one text or for files of any size.
//!
//! ```text
//! classify [--model DIR] [--backend cpu|gpu|auto] [--json | --embed] TEXT
//! classify quantize --model DIR --to int8|int8-per-channel|f16 --out DIR2
//! classify [--model DIR] [--backend B] --explain [--ablate zero|mean] [TEXT]
//! classify [--model DIR] [--backend B] --teach FILE --save-head DIR
//! classify [--model DIR] [--backend B] --head DIR [OPTIONS] [TEXT]
//! classify [--model DIR] [--backend B] [--embed] [--input FILE] [--format lines|jsonl|csv] [--field NAME]
//!          [--output FILE] [--to text|jsonl|csv|npy] [--batch N] [--progress | --no-progress]
//! ```
//! Without TEXT, rows stream from `--input` (or stdin) in batches and results stream out: flat memory
//! whatever the input's length. A row that cannot be read or classified is reported on stderr with its line
//! number while the others go on; a summary of errors ends the run (exit status 1 when there were any).
//! Modules: `input` (lines / JSONL / CSV rows), `csv`, `output` (text / JSONL / CSV / .npy), `progress`,
//! `explain` (`--explain`, `--teach`, `--head`).

// The CLI is native only; a wasm32 build of the crate's tests also compiles bins, so it gets an empty main.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod csv;
#[cfg(not(target_arch = "wasm32"))]
mod explain;
#[cfg(not(target_arch = "wasm32"))]
mod input;
#[cfg(not(target_arch = "wasm32"))]
mod output;
#[cfg(not(target_arch = "wasm32"))]
mod progress;
#[cfg(not(target_arch = "wasm32"))]
mod quantize;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use crate::explain;
    use crate::input::{self, Item, Row, Rows};
    use crate::output::{self, Writer};
    use crate::progress::Progress;
    use encoder_lens::folder::Folder;
    use encoder_lens::pipeline::{MAX_BATCH, MAX_TEXT_BYTES};
    use encoder_lens::{embedded, Backend, Classifier, Engine, ForwardOptions};
    use std::io::{BufRead, BufReader, IsTerminal, Write};
    use std::process::ExitCode;
    use std::time::Instant;

    const USAGE: &str = "usage: classify [OPTIONS] [TEXT]
  Model
      --model DIR      a model folder with config.json, model.safetensors and vocab.txt: this project's
                       format or a Hugging Face BERT folder (e.g. models/minilm, models/minilm-sentiment)
                       (default: the embedded LayerNorm sentiment model)
      --backend B      cpu (default); gpu (wgpu on Vulkan; an error without an adapter); auto (the GPU
                       when there is one, else cpu)
      --embed          pooled, L2-normalised sentence embeddings instead of labels
      --head DIR       classify with a head taught by --teach (DIR/head.json + DIR/head.safetensors) in
                       place of the model's own labels
  Explain and teach
      --explain        print one JSON object per text (TEXT, or each line of --input / stdin): token
                       attributions (occlusion, attention rollout), the Δp(label) of ablating each
                       attention head alone, and the logit lens
      --ablate M       how --explain ablates a head: zero (default) or mean (its mean over the text)
      --teach FILE     train a softmax head on the model's pooled features from FILE (one `label<TAB>text`
                       per line) and write it to DIR/head.json + DIR/head.safetensors (--save-head DIR);
                       prints a JSON report (accuracy on the examples, milliseconds)
      --save-head DIR  where --teach writes the head
  One text
      TEXT             classify TEXT and print one line (--json: one JSON object)
  Files (without TEXT)
      --input FILE     read rows from FILE (default: stdin)
      --format F       lines (one text per line), jsonl (an object per line) or csv (a header line, then
                       records); default: from FILE's extension (.jsonl/.ndjson, .csv), else lines
      --field NAME     the JSONL field or CSV column holding the text (default: text)
      --output FILE    write results to FILE (default: stdout)
      --to F           text (label, probabilities, ms), jsonl (the input object / line number with label,
                       score, probabilities, tokens, truncated; or embedding), csv (the input columns +
                       label, score, p_<label>) or npy (embeddings: float32 (rows, dim), needs --output);
                       default: from FILE's extension, else jsonl with --json, else the input's format
                       for jsonl/csv inputs, else text
      --json           same as --to jsonl
      --batch N        texts per forward pass (default 32, at most 256)
      --progress       show the progress line (rows, rate, ETA) even when stderr is not a terminal
      --no-progress    never show it (default: shown when stderr is a terminal and results do not go to it)
Bad rows (invalid UTF-8, JSON or CSV, a missing field) are reported with their line numbers while the
others are classified; a summary ends the run, and the exit status is 1 if there were any.";

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
        input: Option<String>,
        format: Option<input::Format>,
        field: String,
        output: Option<String>,
        to: Option<output::Format>,
        batch: usize,
        progress: Option<bool>,
    }

    fn parse_args() -> Result<Args, String> {
        let mut args = Args {
            model: None,
            json: false,
            embed: false,
            explain: false,
            ablate: Default::default(),
            head: None,
            teach: None,
            save_head: None,
            backend: Backend::Cpu,
            text: None,
            input: None,
            format: None,
            field: "text".into(),
            output: None,
            to: None,
            batch: 32,
            progress: None,
        };
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
                "--input" | "-i" => args.input = Some(next_value(&mut it, "--input")?),
                "--format" => {
                    let f = next_value(&mut it, "--format")?;
                    args.format = Some(input::Format::parse(&f).ok_or(format!("unknown input format `{f}` (lines, jsonl or csv)"))?);
                }
                "--field" | "--column" => args.field = next_value(&mut it, "--field")?,
                "--output" | "-o" => args.output = Some(next_value(&mut it, "--output")?),
                "--to" => {
                    let f = next_value(&mut it, "--to")?;
                    args.to = Some(output::Format::parse(&f).ok_or(format!("unknown output format `{f}` (text, jsonl, csv or npy)"))?);
                }
                "--batch" => {
                    let n = next_value(&mut it, "--batch")?;
                    args.batch = n
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_BATCH).contains(n))
                        .ok_or(format!("--batch must be a number from 1 to {MAX_BATCH}, got `{n}`"))?;
                }
                "--progress" => args.progress = Some(true),
                "--no-progress" => args.progress = Some(false),
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
        if args.text.is_some() && (args.input.is_some() || args.output.is_some()) {
            return Err("give TEXT or --input/--output, not both".into());
        }
        if args.explain && args.embed {
            return Err("give --explain or --embed, not both".into());
        }
        if args.teach.is_some() && (args.text.is_some() || args.explain || args.embed || args.head.is_some()) {
            return Err("--teach FILE --save-head DIR trains a head; classify with it in a second run (--head DIR)".into());
        }
        if args.save_head.is_some() && args.teach.is_none() {
            return Err("--save-head goes with --teach FILE".into());
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

    /// Bad rows: each reported at once (the first [`Errors::SHOWN`]), all counted for the summary.
    struct Errors {
        count: u64,
        lines: Vec<u64>,
    }

    impl Errors {
        const SHOWN: usize = 100;

        fn report(&mut self, progress: &mut Progress, line: u64, msg: &str) {
            self.count += 1;
            if self.lines.len() < Self::SHOWN {
                progress.clear();
                eprintln!("classify: line {line}: {msg}");
                self.lines.push(line);
            }
        }

        fn summary(&self, ok: u64, what: &str) -> String {
            let mut s = format!("{ok} rows {what}, {} bad", self.count);
            if self.count > 0 {
                let shown: Vec<String> = self.lines.iter().take(20).map(|l| l.to_string()).collect();
                s += &format!(" (line{} {}", if self.count == 1 { "" } else { "s" }, shown.join(", "));
                if self.count > shown.len() as u64 {
                    s += &format!(", … {} more", self.count - shown.len() as u64);
                }
                s += ")";
                if self.count > Self::SHOWN as u64 {
                    s += &format!("; only the first {} are reported above", Self::SHOWN);
                }
            }
            s
        }
    }

    /// Everything a streaming run holds: the engine, the writer, the counts.
    struct Stream<'a> {
        engine: &'a mut Engine,
        writer: Writer,
        embed: bool,
        errors: Errors,
        progress: Progress,
        ok: u64,
    }

    impl Stream<'_> {
        /// Classify (or embed) `rows` as one batch and write the results; a batch the engine rejects is
        /// retried row by row so that only the bad rows are lost.
        fn run(&mut self, rows: &mut Vec<Row>) -> Result<(), String> {
            let mut batch: Vec<Row> = Vec::with_capacity(rows.len());
            for r in rows.drain(..) {
                if r.text.len() > MAX_TEXT_BYTES {
                    let msg = format!("text of {} bytes is longer than the {} MiB limit", r.text.len(), MAX_TEXT_BYTES >> 20);
                    self.errors.report(&mut self.progress, r.line, &msg);
                } else {
                    batch.push(r);
                }
            }
            if batch.is_empty() {
                return Ok(());
            }
            if let Err(e) = self.forward(&batch) {
                if batch.len() == 1 {
                    self.errors.report(&mut self.progress, batch[0].line, &e);
                    return Ok(());
                }
                for r in batch {
                    if let Err(e) = self.forward(std::slice::from_ref(&r)) {
                        self.errors.report(&mut self.progress, r.line, &e);
                    }
                }
            }
            Ok(())
        }

        /// One forward pass over `rows`, results written. An engine error comes back as `Err` with nothing
        /// written; a write error is fatal (the process exits).
        fn forward(&mut self, rows: &[Row]) -> Result<(), String> {
            let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
            let fatal = |e: String| -> ! {
                eprintln!("classify: {e}");
                std::process::exit(1)
            };
            if self.embed {
                let e = pollster::block_on(self.engine.embed(&texts)).map_err(|e| e.to_string())?;
                for (r, v) in rows.iter().zip(&e) {
                    self.writer.write(r, &output::Result::Embedding(v)).unwrap_or_else(|e| fatal(e));
                }
            } else {
                let t0 = Instant::now();
                let c = pollster::block_on(self.engine.classify(&texts, &ForwardOptions::default())).map_err(|e| e.to_string())?;
                let ms = t0.elapsed().as_secs_f64() * 1e3 / rows.len() as f64;
                for (r, p) in rows.iter().zip(&c.predictions) {
                    let res = output::Result::Classified { labels: &c.labels, prediction: p, ms };
                    self.writer.write(r, &res).unwrap_or_else(|e| fatal(e));
                }
            }
            self.ok += rows.len() as u64;
            Ok(())
        }
    }

    /// `--explain` without TEXT: one explanation (a JSON line) per row of `--input` (or stdin), rows read
    /// as `--format` says; a bad row is reported with its line number and the others go on.
    fn explain_stream(args: &Args, engine: &mut Engine) -> Result<ExitCode, String> {
        let reader: Box<dyn BufRead> = match args.input.as_deref() {
            None | Some("-") => Box::new(BufReader::new(std::io::stdin())),
            Some(p) => Box::new(BufReader::new(std::fs::File::open(p).map_err(|e| format!("{p}: {e}"))?)),
        };
        let in_format = args.format.unwrap_or_else(|| args.input.as_deref().map_or(input::Format::Lines, input::Format::from_path));
        let mut rows = Rows::new(reader, in_format, &args.field)?;
        let mut out: Box<dyn Write> = match args.output.as_deref() {
            None | Some("-") => Box::new(std::io::stdout().lock()),
            Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?)),
        };
        let mut bad = 0u64;
        while let Some(item) = rows.next().map_err(|e| format!("reading the input: {e}"))? {
            let r = item.and_then(|row| explain::print_explanation(engine, &row.text, args.ablate, &mut out).map_err(|e| (row.line, e)));
            if let Err((line, e)) = r {
                eprintln!("classify: line {line}: {e}");
                bad += 1;
            }
        }
        out.flush().map_err(|e| e.to_string())?;
        Ok(if bad > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }

    fn stream(args: &Args, engine: &mut Engine) -> Result<ExitCode, String> {
        let (reader, total): (Box<dyn BufRead>, Option<u64>) = match args.input.as_deref() {
            None | Some("-") => (Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())), None),
            Some(p) => {
                let f = std::fs::File::open(p).map_err(|e| format!("{p}: {e}"))?;
                let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                (Box::new(BufReader::with_capacity(1 << 16, f)), size)
            }
        };
        let in_format = args.format.unwrap_or_else(|| args.input.as_deref().map_or(input::Format::Lines, input::Format::from_path));
        let out_format = args.to.or_else(|| args.output.as_deref().and_then(output::Format::from_path)).unwrap_or(
            if args.json {
                output::Format::Jsonl
            } else {
                match in_format {
                    input::Format::Jsonl => output::Format::Jsonl,
                    input::Format::Csv if !args.embed => output::Format::Csv,
                    input::Format::Csv => output::Format::Jsonl,
                    input::Format::Lines => output::Format::Text,
                }
            },
        );
        match (out_format, args.embed) {
            (output::Format::Npy, false) => return Err("--to npy writes embeddings: add --embed".into()),
            (output::Format::Csv, true) => return Err("embeddings go to .npy, JSONL or text, not CSV".into()),
            _ => {}
        }
        let mut rows = Rows::new(reader, in_format, &args.field)?;
        let writer = Writer::new(out_format, args.output.as_deref(), rows.header())?;
        let to_stdout = matches!(args.output.as_deref(), None | Some("-"));
        let show = args.progress.unwrap_or_else(|| std::io::stderr().is_terminal() && !(to_stdout && std::io::stdout().is_terminal()));
        let mut s = Stream {
            engine,
            writer,
            embed: args.embed,
            errors: Errors { count: 0, lines: Vec::new() },
            progress: Progress::new(show, total),
            ok: 0,
        };
        let mut pending: Vec<Row> = Vec::with_capacity(args.batch);
        loop {
            let item: Option<Item> = rows.next().map_err(|e| format!("reading the input: {e}"))?;
            match item {
                None => break,
                Some(Err((line, msg))) => s.errors.report(&mut s.progress, line, &msg),
                Some(Ok(row)) => {
                    pending.push(row);
                    if pending.len() == args.batch {
                        s.run(&mut pending)?;
                    }
                }
            }
            s.progress.update(s.ok, rows.bytes());
        }
        s.run(&mut pending)?;
        s.writer.finish()?;
        s.progress.clear();
        let what = if args.embed { "embedded" } else { "classified" };
        if s.errors.count > 0 || s.progress_shown_once() {
            eprintln!("classify: {}", s.errors.summary(s.ok, what));
        }
        Ok(if s.errors.count > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }

    impl Stream<'_> {
        fn progress_shown_once(&self) -> bool {
            self.progress.enabled()
        }
    }

    pub fn main() -> ExitCode {
        let mut raw = std::env::args_os().skip(1);
        if raw.next().is_some_and(|a| a == "quantize") {
            return match crate::quantize::run(raw) {
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
                eprintln!("{USAGE}\n{}", crate::quantize::USAGE);
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
        if !args.embed && args.teach.is_none() && args.head.is_none() && c.model.classifier.is_none() {
            eprintln!("classify: this model has no classifier head (no labels): use --embed");
            return ExitCode::FAILURE;
        }
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
            return match explain::teach(&mut c, file, args.save_head.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("classify: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        if let Some(dir) = &args.head {
            if let Err(e) = explain::load_head(&mut c, dir) {
                eprintln!("classify: cannot load head: {e}");
                return ExitCode::FAILURE;
            }
        }
        if args.explain && args.text.is_none() {
            return explain_stream(&args, &mut c).unwrap_or_else(|e| {
                eprintln!("classify: {e}");
                ExitCode::FAILURE
            });
        }
        let Some(text) = &args.text else {
            return stream(&args, &mut c).unwrap_or_else(|e| {
                eprintln!("classify: {e}");
                ExitCode::FAILURE
            });
        };
        let mut out = std::io::stdout().lock();
        let result = if args.embed {
            print_embedding(&mut c, text, &mut out)
        } else if args.explain {
            explain::print_explanation(&mut c, text, args.ablate, &mut out)
        } else {
            print_one(&mut c, text, args.json, &mut out)
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("classify: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
