//! Issue 13's flags: `--explain [--ablate zero|mean]` (why the model labels a text as it does, one JSON
//! object per text), `--teach FILE --save-head DIR` (train a softmax head on the model's pooled features)
//! and `--head DIR` (classify with a taught head).

use encoder_lens::{AblationMode, Engine};
use std::io::Write;

/// `--explain`: token attributions (occlusion, attention rollout), the Δp(label) of ablating each head
/// alone, and the logit lens of `text`, as one JSON line (plus the backend that ran it).
pub fn print_explanation(e: &mut Engine, text: &str, mode: AblationMode, out: &mut impl Write) -> Result<(), String> {
    let x = pollster::block_on(encoder_lens::explain::explain(e, text, None, mode)).map_err(|e| e.to_string())?;
    let mut v = serde_json::to_value(&x).map_err(|e| e.to_string())?;
    v["backend"] = serde_json::json!(e.last_backend());
    writeln!(out, "{v}").map_err(|e| e.to_string())
}

/// `--teach FILE --save-head DIR`: labels in order of first appearance, their texts, one head written to
/// `DIR/head.json` + `DIR/head.safetensors`; the training report is printed as JSON.
pub fn teach(e: &mut Engine, file: &str, dir: Option<&str>) -> Result<(), String> {
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

/// `--head DIR`: classify with the head `--teach` saved in DIR from now on.
pub fn load_head(e: &mut Engine, dir: &str) -> Result<(), String> {
    let d = std::path::Path::new(dir);
    let cfg = std::fs::read_to_string(d.join("head.json")).map_err(|e| format!("{dir}/head.json: {e}"))?;
    let w = std::fs::read(d.join("head.safetensors")).map_err(|e| format!("{dir}/head.safetensors: {e}"))?;
    let head = encoder_lens::teach::Head::from_files(&cfg, &w).map_err(|e| format!("{dir}: {e}"))?;
    e.set_head(head).map_err(|e| format!("{dir}: {e}"))
}
